import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Migration 18 against a real PostgreSQL: `service_execution.status` checked by a domain, the
/// rows already there kept as they were, an unknown status still refused.
@Suite struct ExecutionStatusDomainTests {
    @Test func aPopulatedTableKeepsItsRowsAndStillRefusesAnUnknownStatus() throws {
        let connection = try PGConnection(conninfo: try TestCluster.emptyDatabase())
        try Migrator(migrations: Migration.all.filter { $0.version < 18 }).migrate(connection)
        let insert = """
            INSERT INTO spo.service_execution (id, service_name, status, started_at, finished_at)
            SELECT (lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint), 12, '0') || '7abc8'
                || lpad(to_hex(n + $1::int), 15, '0'))::uuid, 'svc', $2, now(), now()
            FROM generate_series(1, 20) AS n
            """
        try connection.execute(insert, ["0", "failed"])
        #expect(try Migrator().migrate(connection) == [18])

        let kept = try connection.execute("SELECT count(*) FROM spo.service_execution WHERE status = 'failed'")
        #expect(kept.value(0, 0) == "20")
        let type = try connection.execute(
            """
            SELECT format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = 'spo.service_execution'::regclass AND attname = 'status'
            """)
        #expect(type.value(0, 0) == "spo.execution_status")
        // Every status of the enum goes in; anything else is a check violation, as before.
        for (index, status) in ExecutionStatus.allCases.enumerated() {
            try connection.execute(insert, [String(100 * (index + 1)), status.rawValue])
        }
        do {
            try connection.execute(insert, ["5000", "bogus"])
            Issue.record("an unknown status was stored")
        } catch {
            #expect(error.sqlstate == "23514", "\(error)")
        }
        // The unsuccessful rows' index and the finished-row trigger survived the change of type.
        let index = try connection.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'service_execution_unsuccessful_id'")
        #expect(index.value(0, 0)?.contains("'succeeded'") == true)
        #expect(throws: PGError.self) {
            try connection.execute("UPDATE spo.service_execution SET status = 'running' WHERE status = 'failed'")
        }
    }
}
