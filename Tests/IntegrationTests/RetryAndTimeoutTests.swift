import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Retries of transient failures under the service's policy, each attempt logged; timeouts;
/// recovery from a lost connection.
@Suite struct RetryAndTimeoutTests {
    private func flaky(_ fixture: Fixture, failures: Int) -> Reply {
        let body = JSONValue.object(["p_key": .string(freshKey()), "p_failures": .number(failures)]).serialized()
        return fixture.execute("flaky", body)
    }

    /// `(attempt, outcome, sqlstate)` of each `service_log` row of an execution.
    private func attempts(_ fixture: Fixture, _ reply: Reply) throws -> [[String?]] {
        let executionID = try #require(reply.header("X-Execution-ID"))
        return try fixture.rows(
            "SELECT attempt::text, outcome, sqlstate FROM spo.service_log WHERE execution_id = $1 ORDER BY attempt",
            [executionID])
    }

    @Test func transientFailuresAreRetriedUntilSuccess() throws {
        let fixture = try Fixture()
        let reply = flaky(fixture, failures: 2)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["attempts"] == .number(3))
        #expect(reply.data == .string("ok after 3 attempts"))
        #expect(
            try attempts(fixture, reply) == [
                ["1", "failed", "40001"], ["2", "failed", "40001"], ["3", "succeeded", nil],
            ])
        #expect(
            try fixture.rows(
                "SELECT status, attempts::text FROM spo.service_execution WHERE id = $1",
                [reply.header("X-Execution-ID")]) == [["succeeded", "3"]])
    }

    @Test func retriesStopAtTheConfiguredAttempts() throws {
        let fixture = try Fixture()
        let reply = flaky(fixture, failures: 5)
        let error = try fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 502)
        #expect(error["details"]?.arrayValue?.first?["sqlstate"] == .string("40001"))
        #expect(try attempts(fixture, reply).map { $0[1] } == ["failed", "failed", "failed"])
        #expect(
            try fixture.rows(
                "SELECT status, attempts::text FROM spo.service_execution WHERE id = $1",
                [reply.header("X-Execution-ID")]) == [["failed", "3"]])
    }

    @Test func firstAttemptSuccessIsOneAttempt() throws {
        let fixture = try Fixture()
        let reply = flaky(fixture, failures: 0)
        #expect(reply.status == 200)
        #expect(reply.json["attempts"] == .number(1))
        #expect(try attempts(fixture, reply) == [["1", "succeeded", nil]])
    }

    @Test func aPolicyOfOneAttemptNeverRetries() throws {
        let fixture = try Fixture()
        try fixture.database.execute("UPDATE spo.service SET retry_policy = 'none' WHERE name = 'flaky'")
        try fixture.reload()
        let reply = flaky(fixture, failures: 1)
        try fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 502)
        #expect(try attempts(fixture, reply) == [["1", "failed", "40001"]])
    }

    @Test func businessErrorsAreNeverRetried() throws {
        let fixture = try Fixture()
        #expect(
            fixture.handler.configuration.retryPolicy(for: fixture.handler.configuration.services["business_failure"]!)
                .maxAttempts == 3)
        let reply = fixture.execute("business_failure")
        try fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 422)
        #expect(try attempts(fixture, reply) == [["1", "failed", "P0001"]])
        #expect(
            try fixture.value(
                "SELECT attempts::text FROM spo.service_execution WHERE id = $1", [reply.header("X-Execution-ID")])
                == "1")
    }

    @Test func timeoutIsNotRetriedEvenUnderARetryingPolicy() throws {
        let fixture = try Fixture()
        try fixture.database.execute(
            "UPDATE spo.service SET retry_policy = 'default', timeout_ms = 300 WHERE name = 'slow'")
        try fixture.reload()
        let started = Date()
        let reply = fixture.execute("slow", #"{"p_seconds": 3}"#)
        let elapsed = Date().timeIntervalSince(started)
        try fixture.expectError(reply, "TIMEOUT", status: 504)
        #expect(elapsed < 1, "took \(elapsed) s")
        #expect(try attempts(fixture, reply) == [["1", "timeout", "57014"]])
    }

    @Test func theConnectionIsReusableAfterATimeout() throws {
        let fixture = try Fixture()
        try fixture.expectError(fixture.execute("slow", #"{"p_seconds": 5}"#), "TIMEOUT", status: 504)
        let after = fixture.execute("slow", #"{"p_seconds": 0}"#)
        #expect(after.status == 200, "\(after.text)")
        #expect(after.data == .string("done"))
        #expect(fixture.execute("customer_get", #"{"p_id": 9}"#).status == 200)
    }

    /// The target backend (and the control one, in the same database) dies between two requests,
    /// as when PostgreSQL restarts: the next request still succeeds, and is audited.
    @Test func aTerminatedBackendIsReplaced() throws {
        let fixture = try Fixture()
        let first = fixture.execute("customer_get", #"{"p_id": 1}"#)
        #expect(first.status == 200, "\(first.text)")

        let terminated = try fixture.rows(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """)
        #expect(terminated.count >= 2)
        #expect(
            try eventually(within: 2) {
                try fixture.value(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                    == "0"
            })

        let second = fixture.execute("customer_get", #"{"p_id": 2}"#)
        #expect(second.status == 200, "\(second.text)")
        #expect(second.data?.arrayValue?.first?["id"] == .number(2))
        let executionID = try #require(second.header("X-Execution-ID"))
        #expect(
            try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1", [executionID]) == "succeeded")
        // Either the broken connection was noticed before the call, or the call failed as a lost
        // connection (class 08) and was retried on a new one.
        let outcomes = try fixture.rows(
            "SELECT outcome, sqlstate FROM spo.service_log WHERE execution_id = $1 ORDER BY attempt", [executionID])
        #expect(outcomes.last == ["succeeded", nil])
        for failed in outcomes.dropLast() {
            #expect(failed[0] == "connection_failed")
            #expect(failed[1]?.hasPrefix("08") == true || failed[1] == "57P01", "\(failed)")
        }

        let third = fixture.execute("customer_get", #"{"p_id": 3}"#)
        #expect(third.status == 200, "\(third.text)")
        #expect(third.json["attempts"] == .number(1))
    }

    /// The backend dies in the middle of a statement: a lost connection, retried on a new one
    /// since the service is declared idempotent (`SafeRetryTests` has the volatile ones).
    @Test func aBackendTerminatedMidStatementIsRetriedOnANewConnection() throws {
        let fixture = try Fixture()
        try fixture.database.execute(
            "UPDATE spo.service SET retry_policy = 'default', timeout_ms = 5000 WHERE name = 'slow'")
        try fixture.database.execute(
            """
            UPDATE spo.service_configuration SET idempotent = true
            WHERE service_id = (SELECT id FROM spo.service WHERE name = 'slow')
            """)
        try fixture.reload()
        let conninfo = fixture.conninfo
        let killer = Thread {
            guard let connection = try? PGConnection(conninfo: conninfo) else { return }
            let sleeping = """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep'
                """
            for _ in 0..<100 {
                usleep(20_000)
                if let killed = try? connection.execute(sleeping), killed.rowCount > 0 { return }
            }
        }
        killer.start()
        let reply = fixture.execute("slow", #"{"p_seconds": 0.5}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .string("done"))
        #expect(reply.json["attempts"] == .number(2))
        let outcomes = try fixture.rows(
            "SELECT outcome, left(sqlstate, 2) FROM spo.service_log WHERE execution_id = $1 ORDER BY attempt",
            [reply.header("X-Execution-ID")])
        #expect(outcomes == [["connection_failed", "08"], ["succeeded", nil]])
    }
}
