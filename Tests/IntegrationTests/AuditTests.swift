import Foundation
import Glibc
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

/// Every execution of an existing service is a `service_execution` row, whatever its outcome.
@Suite struct AuditTests {
    /// The execution row named by the reply's `X-Execution-ID`, as a dictionary of text.
    private func execution(_ fixture: Fixture, _ reply: Reply) throws -> [String: String?] {
        let executionID = try #require(reply.header("X-Execution-ID"), "no X-Execution-ID in \(reply.headers)")
        let columns = [
            "id", "service_name", "status", "http_status", "error_code", "attempts", "duration_ms", "user_name",
            "correlation_id", "idempotency_key", "parameters", "started_at", "finished_at",
        ]
        let rows = try fixture.rows(
            "SELECT " + columns.map { "\($0)::text" }.joined(separator: ", ")
                + " FROM spo.service_execution WHERE id = $1", [executionID])
        let row = try #require(rows.first, "no service_execution row \(executionID)")
        #expect(rows.count == 1)
        return Dictionary(uniqueKeysWithValues: zip(columns, row))
    }

    @Test func successIsAudited() throws {
        let fixture = try Fixture()
        let reply = fixture.execute(
            "customer_get", #"{"p_id": 42}"#,
            headers: ["X-Correlation-ID": "trace-abc.123", "Idempotency-Key": "idem-1"])
        #expect(reply.status == 200)
        #expect(reply.header("X-Correlation-ID") == "trace-abc.123")
        let row = try execution(fixture, reply)
        #expect(row["id"] == reply.json["execution_id"]?.stringValue)
        #expect(row["service_name"] == "customer_get")
        #expect(row["status"] == "succeeded")
        #expect(row["http_status"] == "200")
        #expect(row["error_code"] == .some(nil))
        #expect(row["attempts"] == "1")
        #expect(row["user_name"] == Fixture.keyName)
        #expect(row["correlation_id"] == "trace-abc.123")
        #expect(row["idempotency_key"] == "idem-1")
        #expect(row["parameters"] == #"{"p_id": 42}"#)
        #expect(row["finished_at"] != .some(nil))
        let duration = try #require(Double((row["duration_ms"] ?? nil) ?? ""))
        #expect(duration >= 0 && duration < 5000)

        let log = try fixture.rows(
            "SELECT attempt::text, outcome, worker_pid::text FROM spo.service_log WHERE execution_id = $1",
            [row["id"] ?? nil])
        #expect(log == [["1", "succeeded", String(getpid())]])
    }

    @Test func correlationIDIsGeneratedWhenMissingOrUnusable() throws {
        let fixture = try Fixture()
        let missing = fixture.execute("customer_count")
        let generated = missing.header("X-Correlation-ID")
        #expect(isLowercaseUUID(generated))
        #expect(try execution(fixture, missing)["correlation_id"] == generated)

        let unusable = fixture.execute("customer_count", headers: ["X-Correlation-ID": "bad value\r\nX-Evil: 1"])
        let replaced = unusable.header("X-Correlation-ID")
        #expect(isLowercaseUUID(replaced))
        #expect(replaced != generated)
        #expect(try execution(fixture, unusable)["correlation_id"] == replaced)
    }

    @Test func failureIsAuditedWithItsError() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("business_failure", headers: ["X-Correlation-ID": "corr-failure"])
        // P0001, a business rule: the status the client was answered is what the audit records.
        let error = try fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 422)
        #expect(reply.header("X-Correlation-ID") == "corr-failure")
        let row = try execution(fixture, reply)
        #expect(row["status"] == "failed")
        #expect(row["http_status"] == "422")
        #expect(row["error_code"] == "SP_EXECUTION_FAILED")
        #expect(row["attempts"] == "1")
        #expect(row["user_name"] == Fixture.keyName)
        #expect(row["correlation_id"] == "corr-failure")
        // The configured default was applied and is what was recorded.
        #expect(row["parameters"] == #"{"p_code": "E001"}"#)
        #expect(
            try fixture.value(
                "SELECT execution_id::text FROM spo.service_error WHERE reference = $1",
                [error["reference"]?.stringValue])
                == row["id"] ?? nil)
        // The error row carries the request's correlation id too.
        #expect(
            try fixture.value(
                "SELECT correlation_id FROM spo.service_error WHERE reference = $1", [error["reference"]?.stringValue])
                == "corr-failure")
    }

    @Test func anErrorOfNoExecutionCarriesTheCorrelationID() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("no_such_service", headers: ["X-Correlation-ID": "corr-unknown"])
        let error = try fixture.expectError(reply, "SERVICE_NOT_FOUND", status: 404)
        #expect(
            try fixture.value(
                "SELECT correlation_id FROM spo.service_error WHERE reference = $1 AND execution_id IS NULL",
                [error["reference"]?.stringValue]) == "corr-unknown")
    }

    @Test func timeoutIsAudited() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("slow", #"{"p_seconds": 3}"#)
        try fixture.expectError(reply, "TIMEOUT", status: 504)
        let row = try execution(fixture, reply)
        #expect(row["status"] == "timeout")
        #expect(row["http_status"] == "504")
        #expect(row["error_code"] == "TIMEOUT")
        #expect(row["attempts"] == "1")
        let duration = try #require(Double((row["duration_ms"] ?? nil) ?? ""))
        #expect(duration >= 900 && duration < 1500, "\(duration)")
    }

    @Test func rejectedInputOfAnExistingServiceIsAudited() throws {
        let fixture = try Fixture()
        let invalid = fixture.execute("customer_get", #"{"p_id": -1}"#, headers: ["X-Correlation-ID": "corr-bad"])
        let error = try fixture.expectError(invalid, "INVALID_PARAMETERS", status: 400)
        #expect(invalid.header("X-Correlation-ID") == "corr-bad")
        let row = try execution(fixture, invalid)
        #expect(row["status"] == "rejected")
        #expect(row["http_status"] == "400")
        #expect(row["error_code"] == "INVALID_PARAMETERS")
        #expect(row["attempts"] == "0")
        #expect(row["user_name"] == Fixture.keyName)
        #expect(row["correlation_id"] == "corr-bad")
        #expect(
            try fixture.value(
                "SELECT execution_id::text FROM spo.service_error WHERE reference = $1",
                [error["reference"]?.stringValue])
                == row["id"] ?? nil)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_log") == "0")

        let badJSON = fixture.execute("customer_get", "{")
        try fixture.expectError(badJSON, "INVALID_PARAMETERS", status: 400)
        #expect(try execution(fixture, badJSON)["status"] == "rejected")

        let mediaType = fixture.execute("customer_get", "p_id=1", headers: ["Content-Type": "text/plain"])
        try fixture.expectError(mediaType, "UNSUPPORTED_MEDIA_TYPE", status: 415)
        #expect(try execution(fixture, mediaType)["status"] == "rejected")
    }

    @Test func requestsForNoServiceLeaveOnlyAnErrorRow() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("no_such_service", headers: ["X-Correlation-ID": "corr-none"])
        let error = try fixture.expectError(reply, "SERVICE_NOT_FOUND", status: 404)
        #expect(reply.header("X-Correlation-ID") == "corr-none")
        #expect(reply.header("X-Execution-ID") == nil)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "0")
        #expect(
            try fixture.rows(
                "SELECT execution_id::text, service_name FROM spo.service_error WHERE reference = $1",
                [error["reference"]?.stringValue]) == [[nil, nil]])
    }

    @Test func everyRequestIsOneExecutionRow() throws {
        let fixture = try Fixture()
        var ids: [String] = []
        for id in 1...5 {
            let reply = fixture.execute("customer_get", #"{"p_id": \#(id)}"#)
            ids.append(reply.header("X-Execution-ID") ?? "")
        }
        ids.append(fixture.execute("business_failure").header("X-Execution-ID") ?? "")
        ids.append(fixture.execute("customer_get", "{}").header("X-Execution-ID") ?? "")
        #expect(Set(ids).count == 7)
        let stored = try fixture.rows("SELECT id::text FROM spo.service_execution").compactMap { $0[0] }
        #expect(Set(stored) == Set(ids))
    }
}
