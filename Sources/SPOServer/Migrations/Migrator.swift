import SPOCore
import SPOPostgres

/// Brings the control schema up to date. Safe when several processes start at once: all work
/// happens in one transaction holding an advisory lock, so one process migrates and the others
/// wait, then find nothing left to do.
public struct Migrator {
    /// Arbitrary but fixed: the advisory lock key that serialises migrations.
    static let lockKey = "7370_6f00"

    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.all) {
        self.migrations = migrations
    }

    /// Applies the migrations not yet recorded in `spo.schema_migrations`; returns their versions.
    @discardableResult
    public func migrate(_ connection: PGConnection) throws(PGError) -> [Int] {
        // Nothing to do is found by reading alone, so a role that may not create anything in the
        // schema (the pool's, `spo_worker`) starts on a schema its owner migrated.
        if try isUpToDate(connection) { return [] }
        try connection.execute("BEGIN")
        do {
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [Migrator.lockKey])
            try connection.executeScript(
                """
                SET LOCAL client_min_messages = warning;
                CREATE SCHEMA IF NOT EXISTS spo;
                CREATE TABLE IF NOT EXISTS spo.schema_migrations (
                    version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
                """)
            let done = try connection.execute("SELECT version FROM spo.schema_migrations")
            let applied = Set((0..<done.rowCount).compactMap { done.value($0, 0).flatMap(Int.init) })
            var newlyApplied: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                try connection.executeScript(migration.sql)
                try connection.execute(
                    "INSERT INTO spo.schema_migrations (version, name) VALUES ($1, $2)",
                    [String(migration.version), migration.name])
                newlyApplied.append(migration.version)
            }
            try connection.execute("COMMIT")
            return newlyApplied
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Whether every migration is recorded already (false when the schema is not there yet).
    private func isUpToDate(_ connection: PGConnection) throws(PGError) -> Bool {
        let table = try connection.execute("SELECT pg_catalog.to_regclass('spo.schema_migrations') IS NOT NULL")
        guard table.value(0, 0) == "t" else { return false }
        let done = try connection.execute("SELECT version FROM spo.schema_migrations")
        let applied = Set((0..<done.rowCount).compactMap { done.value($0, 0).flatMap(Int.init) })
        return migrations.allSatisfy { applied.contains($0.version) }
    }
}
