import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

@Suite struct MigrationTests {
    @Test func migratingAnEmptyDatabaseAppliesEveryMigrationOnce() throws {
        let conninfo = try TestCluster.emptyDatabase()
        let connection = try PGConnection(conninfo: conninfo)
        let versions = Migration.all.map(\.version)

        #expect(try Migrator().migrate(connection) == versions)
        #expect(try Migrator().migrate(connection) == [])

        let recorded = try connection.execute("SELECT version FROM spo.schema_migrations ORDER BY version")
        #expect((0..<recorded.rowCount).map { recorded.value($0, 0) } == versions.map(String.init))
        // Every table of SPEC §3 exists.
        let tables = try connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'spo' ORDER BY 1")
        let names = Set((0..<tables.rowCount).compactMap { tables.value($0, 0) })
        #expect(
            names.isSuperset(of: [
                "connection", "schema_migrations", "service", "service_configuration", "service_error",
                "service_execution", "service_log", "service_reprocessing", "service_retry_policy",
            ]))
    }

    @Test func migratingAMigratedDatabaseChangesNothing() throws {
        let fixture = try Fixture()
        let before = try fixture.rows("SELECT version, applied_at::text FROM spo.schema_migrations ORDER BY 1")
        #expect(try Migrator().migrate(fixture.database) == [])
        #expect(try fixture.rows("SELECT version, applied_at::text FROM spo.schema_migrations ORDER BY 1") == before)
        // The configuration loaded before is still there.
        #expect(try fixture.value("SELECT count(*) FROM spo.service") == "10")
    }

    /// Eight workers starting at once on an empty database: one migrates, the others wait on the
    /// advisory lock and then find nothing to do.
    @Test func concurrentMigrationsAllSucceedAndApplyEachVersionOnce() throws {
        let conninfo = try TestCluster.emptyDatabase()
        let count = 8
        let connections = try (0..<count).map { _ in try PGConnection(conninfo: conninfo) }
        let results = ResultBox(count: count)
        let ready = DispatchGroup()
        let done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for index in 0..<count {
            ready.enter()
            done.enter()
            let connection = UncheckedBox(connections[index])
            let thread = Thread {
                ready.leave()
                go.wait()
                results.set(index, Result<[Int], any Error> { try Migrator().migrate(connection.value) })
                done.leave()
            }
            thread.start()
        }
        ready.wait()
        for _ in 0..<count { go.signal() }
        #expect(done.wait(timeout: .now() + 30) == .success)

        let outcomes = results.all
        var applied: [[Int]] = []
        for outcome in outcomes {
            switch outcome {
            case .success(let versions)?: applied.append(versions)
            case .failure(let error)?: Issue.record("a migration failed: \(error)")
            case nil: Issue.record("a migration did not finish")
            }
        }
        #expect(applied.count == count)
        #expect(applied.filter { !$0.isEmpty } == [Migration.all.map(\.version)])

        let check = try PGConnection(conninfo: conninfo)
        let rows = try check.execute("SELECT version, count(*) FROM spo.schema_migrations GROUP BY version ORDER BY 1")
        #expect(rows.rowCount == Migration.all.count)
        for row in 0..<rows.rowCount { #expect(rows.value(row, 1) == "1") }
        #expect(try check.execute("SELECT name FROM spo.service_retry_policy").rowCount == 1)
    }
}

/// Results written by several threads.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<[Int], any Error>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<[Int], any Error>) {
        lock.withLock { results[index] = result }
    }

    var all: [Result<[Int], any Error>?] { lock.withLock { results } }
}

/// Hands a value that is not `Sendable` to exactly one other thread.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
