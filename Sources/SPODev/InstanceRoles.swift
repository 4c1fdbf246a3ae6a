import Foundation
import SPOCore
import SPOPostgres
import SPOServer

/// The database roles of the local instance, least privilege as in production:
///
/// - `spo_pool` (login) is what the pool's workers and consumers connect to the control database
///   as: a member of migration 13's `spo_worker`, so it writes configuration and the audit but
///   cannot rewrite history.
/// - `spo_target_owner` (no login) owns every example database and what its script creates.
/// - `spo_target_executor` (login) is what the example connections log in as: it owns nothing,
///   reads no table, and may only EXECUTE the routines of the services registered on it.
///
/// The login roles' passwords are random, made once, and kept in the instance's pgpass file next
/// to the superuser's line (never on a command line).
struct InstanceRoles {
    static let pool = "spo_pool"
    static let targetOwner = "spo_target_owner"
    static let targetExecutor = "spo_target_executor"

    /// The pgpass file, the cluster's socket directory and port.
    let credentialsPath: String
    let host: String
    let port: Int
    /// Who may read the pgpass file (the pool's user when root).
    let owner: ProcessUser?

    /// Creates the target roles when missing and gives the executor its password.
    func prepareTargetRoles(on admin: PGConnection) throws {
        try ensureRole(InstanceRoles.targetOwner, login: false, on: admin)
        try ensureRole(InstanceRoles.targetExecutor, login: true, on: admin)
    }

    /// Creates the pool's login role when missing, a member of `spo_worker` (which the control
    /// schema's migration 13 creates), with its password.
    func preparePoolRole(on admin: PGConnection) throws {
        try ensureRole(InstanceRoles.pool, login: true, on: admin)
        try admin.execute("GRANT spo_worker TO \(admin.quoteIdentifier(InstanceRoles.pool))")
    }

    private func ensureRole(_ name: String, login: Bool, on admin: PGConnection) throws {
        let quoted = admin.quoteIdentifier(name)
        if try admin.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [name]).rowCount == 0 {
            try admin.execute("CREATE ROLE \(quoted) \(login ? "LOGIN" : "NOLOGIN")")
        }
        guard login else { return }
        let credentials = try PostgresCredentials.loadOrCreate(
            path: credentialsPath, host: host, port: port, user: name, owner: owner)
        // Hex digits only (PostgresCredentials), so the literal needs no quoting; libpq sends it
        // over the instance's private socket, and the server logs no successful statement.
        try admin.execute("ALTER ROLE \(quoted) PASSWORD '\(credentials.password)'")
    }

    /// Whether `database` exists; an example database made before these roles (owned by the
    /// superuser, its routines running as the caller) counts as missing: it is dropped, to be
    /// loaded again as the owner.
    func exampleExists(_ database: String, on admin: PGConnection) throws -> Bool {
        let owner = try admin.execute(
            "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = $1", [database])
        guard owner.rowCount > 0 else { return false }
        if owner.value(0, 0) == InstanceRoles.targetOwner { return true }
        Log.info(
            "reloading an example database made before its roles", ["database": .string(database)])
        try admin.execute("DROP DATABASE \(admin.quoteIdentifier(database)) WITH (FORCE)")
        return false
    }

    /// Creates `database` owned by the owner role and runs its script as that role; then no
    /// routine in the schemas it made is executable by PUBLIC, now or when made later by it.
    func loadExample(_ database: String, script: String, admin: PGConnection, connect: (String) throws -> PGConnection)
        throws
    {
        let owner = admin.quoteIdentifier(InstanceRoles.targetOwner)
        try admin.execute("CREATE DATABASE \(admin.quoteIdentifier(database)) OWNER \(owner)")
        do {
            let connection = try connect(database)
            try connection.execute("SET ROLE \(owner)")
            try connection.executeScript(script)
            try connection.execute("RESET ROLE")
            try revokeFromPublic(on: connection)
        } catch {
            // Not half loaded: the next start loads it again (after the script is fixed).
            _ = try? admin.execute("DROP DATABASE \(admin.quoteIdentifier(database)) WITH (FORCE)")
            throw error
        }
    }

    private func revokeFromPublic(on connection: PGConnection) throws {
        let owner = connection.quoteIdentifier(InstanceRoles.targetOwner)
        try connection.executeScript(
            """
            ALTER DEFAULT PRIVILEGES FOR ROLE \(owner) REVOKE EXECUTE ON ROUTINES FROM PUBLIC;
            DO $$
            DECLARE
                v_schema name;
            BEGIN
                FOR v_schema IN SELECT nspname FROM pg_catalog.pg_namespace
                                WHERE nspowner = '\(InstanceRoles.targetOwner)'::regrole OR nspname = 'public' LOOP
                    EXECUTE format('REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA %I FROM PUBLIC', v_schema);
                END LOOP;
            END $$;
            """)
    }

    /// Grants the executor what the services registered on each example database need
    /// (`TargetGrants`, as `spo grants` prints them), on that database.
    func grantRegisteredServices(
        _ configuration: Configuration, databases: [String], connect: (String) throws -> PGConnection
    ) throws {
        for name in configuration.connections.keys.sorted() {
            guard let conninfo = try? PGConninfo(parsing: configuration.connections[name]?.conninfo ?? ""),
                conninfo["user"] == InstanceRoles.targetExecutor, let database = conninfo["dbname"],
                databases.contains(database),
                let grants = TargetGrants.forConnection(name, in: configuration), !grants.statements.isEmpty
            else { continue }
            try connect(database).executeScript(grants.statements.joined(separator: "\n"))
        }
    }
}
