import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// A connection lost after the call was sent leaves its outcome unknown: the call is sent again
/// only when that cannot run a side effect twice (the routine is IMMUTABLE or STABLE, or the
/// service is declared idempotent). Lost before sending, it stays retried.
@Suite struct SafeRetryTests {
    /// `demo.charge` inserts and commits (a procedure may), then loses its connection — by
    /// terminating its own backend when `p_cut` says so, or while it sleeps `p_sleep` seconds.
    static let charge = """
        CREATE TABLE demo.charges (id bigint GENERATED ALWAYS AS IDENTITY, reference text NOT NULL);
        CREATE PROCEDURE demo.charge(p_reference text, p_cut text DEFAULT 'never', p_sleep float8 DEFAULT 0)
            LANGUAGE plpgsql
        AS $$
        BEGIN
            INSERT INTO demo.charges (reference) VALUES (p_reference);
            COMMIT;
            IF p_cut = 'always' OR (p_cut = 'first'
                AND (SELECT count(*) FROM demo.charges WHERE reference = p_reference) = 1) THEN
                PERFORM pg_terminate_backend(pg_backend_pid());
            END IF;
            PERFORM pg_sleep(p_sleep);
        END
        $$;
        -- STABLE: reads only. Its first call loses the connection (a sequence counts the calls:
        -- sequence values survive the rollback of the terminated call).
        CREATE SEQUENCE demo.lookup_calls;
        CREATE FUNCTION demo.lookup(p_id int) RETURNS int LANGUAGE plpgsql STABLE AS $$
        BEGIN
            IF nextval('demo.lookup_calls') = 1 THEN
                PERFORM pg_terminate_backend(pg_backend_pid());
                PERFORM pg_sleep(5);
            END IF;
            RETURN p_id;
        END
        $$;
        """

    private func fixture(idempotent: Bool = false) throws -> Fixture {
        let fixture = try Fixture()
        try fixture.register(
            sql: Self.charge,
            services: #"""
                [{"name": "charge", "connection": "demo", "procedure": "demo.charge", "parameters": "discover",
                  "retry_policy": "default", "timeout_ms": 10000, "idempotent": \#(idempotent)},
                 {"name": "lookup", "connection": "demo", "procedure": "demo.lookup", "parameters": "discover",
                  "retry_policy": "default"}]
                """#)
        return fixture
    }

    private func charges(_ fixture: Fixture, _ reference: String) throws -> String? {
        try fixture.value("SELECT count(*) FROM demo.charges WHERE reference = $1", [reference])
    }

    private func outcomes(_ fixture: Fixture, _ reply: Reply) throws -> [String?] {
        try fixture.rows(
            "SELECT outcome FROM spo.service_log WHERE execution_id = $1 ORDER BY attempt",
            [reply.header("X-Execution-ID")]
        ).map { $0[0] }
    }

    @Test func aVolatileProcedureCutAfterItWasSentRunsOnce() throws {
        let fixture = try fixture()
        #expect(
            try fixture.value("SELECT volatility FROM spo.service_configuration WHERE procedure = 'demo.charge'")
                == "volatile")
        let reference = freshKey()
        let reply = fixture.execute("charge", #"{"p_reference": "\#(reference)", "p_cut": "always"}"#)
        #expect(reply.status == 503 || reply.status == 502, "\(reply.text)")
        #expect(try charges(fixture, reference) == "1")
        #expect(try outcomes(fixture, reply).count == 1)
        let message = reply.json["error"]?["details"]?.arrayValue?.first?["message"]?.stringValue ?? ""
        #expect(message.contains("may have run"), "\(reply.text)")
        // The next call gets a new connection and runs normally.
        let next = fixture.execute("charge", #"{"p_reference": "\#(reference)-2"}"#)
        #expect(next.status == 200, "\(next.text)")
        #expect(next.json["attempts"] == .number(1))
    }

    /// As the brief of the issue puts it: another session terminates the worker's backend while
    /// the call sleeps, after the insert was committed.
    @Test func aVolatileProcedureWhoseBackendIsTerminatedMidCallRunsOnce() throws {
        let fixture = try fixture()
        let reference = freshKey()
        let conninfo = fixture.conninfo
        let killed = Killed()
        let killer = Thread {
            guard let connection = try? PGConnection(conninfo: conninfo) else { return }
            let sleeping = """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%charge%'
                """
            for _ in 0..<500 {
                if let result = try? connection.execute(sleeping), result.rowCount > 0 {
                    killed.set()
                    return
                }
                usleep(10_000)
            }
        }
        killer.start()
        let reply = fixture.execute("charge", #"{"p_reference": "\#(reference)", "p_sleep": 3}"#)
        #expect(killed.value)
        #expect(reply.status == 503 || reply.status == 502, "\(reply.text)")
        #expect(try charges(fixture, reference) == "1")
        #expect(try outcomes(fixture, reply).count == 1)
    }

    @Test func anIdempotentServiceIsRetriedAfterACut() throws {
        let fixture = try fixture(idempotent: true)
        #expect(fixture.handler.configuration.services["charge"]?.idempotent == true)
        let reference = freshKey()
        let reply = fixture.execute("charge", #"{"p_reference": "\#(reference)", "p_cut": "first"}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["attempts"] == .number(2))
        #expect(try outcomes(fixture, reply) == ["connection_failed", "succeeded"])
        // Declared idempotent, it ran twice: the declaration is the service's promise.
        #expect(try charges(fixture, reference) == "2")
    }

    @Test func aStableFunctionIsRetriedAfterACut() throws {
        let fixture = try fixture()
        #expect(fixture.handler.configuration.services["lookup"]?.volatility == .stable)
        let reply = fixture.execute("lookup", #"{"p_id": 7}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .number("7"))
        #expect(reply.json["attempts"] == .number(2))
        #expect(try fixture.value("SELECT last_value::text FROM demo.lookup_calls") == "2")
    }

    /// The backend dies while the connection is idle; the next call prepares a statement first
    /// and fails there, before its call was sent: retried on a new connection, run once.
    @Test func aConnectionLostBeforeTheCallWasSentIsStillRetried() throws {
        let fixture = try fixture()
        let first = fixture.execute("charge", #"{"p_reference": "before"}"#)
        #expect(first.status == 200, "\(first.text)")
        try fixture.database.execute(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            """)
        #expect(
            try eventually(within: 5) {
                try fixture.value(
                    """
                    SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                    AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                    """) == "0"
            })
        let reference = freshKey()
        // p_sleep supplied: another statement than the first call's, so it is prepared first.
        let reply = fixture.execute("charge", #"{"p_reference": "\#(reference)", "p_sleep": 0}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["attempts"] == .number(2))
        #expect(try charges(fixture, reference) == "1")
    }
}

/// Set by the killer thread, read by the test.
private final class Killed: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}
