import Foundation
import SPOJSON
import Testing

@testable import SPOCore

/// Every error code, in the one shape of SPEC §4, each with its `service_error` row.
@Suite struct ErrorTests {
    /// The `(parameter, problem)` pairs of an INVALID_PARAMETERS error.
    private func problems(_ error: JSONValue) -> [(String?, String)] {
        (error["details"]?.arrayValue ?? []).map { ($0["parameter"]?.stringValue, $0["problem"]?.stringValue ?? "") }
    }

    @Test func missingParameterIsNamed() throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(fixture.execute("customer_get", "{}"), "INVALID_PARAMETERS", status: 400)
        let found = problems(error)
        #expect(found.map(\.0) == ["p_id"])
        #expect(found.first?.1 == "is required")
    }

    @Test func unknownParameterIsNamed() throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(
            fixture.execute("customer_get", #"{"p_id": 1, "p_bogus": 2}"#), "INVALID_PARAMETERS", status: 400)
        let found = problems(error)
        #expect(found.map(\.0) == ["p_bogus"])
        #expect(found.first?.1.contains("unknown parameter") == true)
    }

    @Test func mistypedParameterIsNamed() throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(
            fixture.execute("customer_get", #"{"p_id": "forty-two"}"#), "INVALID_PARAMETERS", status: 400)
        #expect(problems(error).map(\.0) == ["p_id"])
        #expect(problems(error).first?.1.contains("integer") == true)
    }

    @Test func outOfRangeParameterIsNamed() throws {
        let fixture = try Fixture()
        let low = try fixture.expectError(
            fixture.execute("customer_get", #"{"p_id": 0}"#), "INVALID_PARAMETERS", status: 400)
        #expect(problems(low).map(\.0) == ["p_id"])
        #expect(problems(low).first?.1 == "must be at least 1")
        let high = try fixture.expectError(
            fixture.execute("customer_search", #"{"p_limit": 101}"#), "INVALID_PARAMETERS", status: 400)
        #expect(problems(high).map(\.0) == ["p_limit"])
        #expect(problems(high).first?.1 == "must be at most 100")
    }

    @Test func everyBadParameterIsReportedAtOnce() throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(
            fixture.execute("transfer", #"{"p_from": "x", "p_amount": 0, "p_from_balance": 1, "p_extra": true}"#),
            "INVALID_PARAMETERS", status: 400)
        let named = Set(problems(error).compactMap(\.0))
        #expect(named == ["p_from", "p_to", "p_amount", "p_from_balance", "p_extra"])
        let message = error["message"]?.stringValue ?? ""
        for name in named { #expect(message.contains(name), "\(message)") }
        // Nothing ran: no money moved.
        #expect(try fixture.value("SELECT count(*) FROM spo.service_log") == "0")
    }

    @Test(arguments: [#"{"p_id": "#, "not json", #"{"p_id": 1}}"#, "[1, 2]", "\"text\""])
    func badJSONIsInvalidParameters(_ body: String) throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(
            fixture.execute("customer_get", body), "INVALID_PARAMETERS", status: 400)
        let found = problems(error)
        #expect(found.count == 1)
        #expect(found.first?.0 == nil)
        #expect(!(found.first?.1.isEmpty ?? true))
    }

    @Test func unknownServiceIsNotFound() throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(fixture.execute("no_such_service"), "SERVICE_NOT_FOUND", status: 404)
        #expect(error["message"]?.stringValue?.contains("no_such_service") == true)
        let envelope = fixture.post("/api/execute", #"{"service": "no_such_service", "parameters": {}}"#)
        try fixture.expectError(envelope, "SERVICE_NOT_FOUND", status: 404)
        // No execution of a service that does not exist.
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "0")
    }

    @Test func disabledServiceIsNotFound() throws {
        let fixture = try Fixture()
        #expect(fixture.execute("customer_count").status == 200)
        try fixture.database.execute("UPDATE spo.service SET enabled = false WHERE name = 'customer_count'")
        try fixture.reload()
        try fixture.expectError(fixture.execute("customer_count"), "SERVICE_NOT_FOUND", status: 404)
        try fixture.expectError(
            fixture.post("/api/execute", #"{"service": "customer_count"}"#), "SERVICE_NOT_FOUND", status: 404)
    }

    @Test func businessErrorIsExecutionFailedWithSQLState() throws {
        let fixture = try Fixture()
        let error = try fixture.expectError(
            fixture.execute("business_failure", #"{"p_code": "E042"}"#), "SP_EXECUTION_FAILED", status: 502)
        let detail = try #require(error["details"]?.arrayValue?.first)
        #expect(detail["sqlstate"] == .string("P0001"))
        #expect(detail["message"] == .string("business rule violated: E042"))
        #expect(detail["detail"] == .string("demo.fail_business always fails; it was asked for code E042"))
        #expect(detail["hint"] == .string("This service exists to test error reporting."))
        let reference = error["reference"]?.stringValue
        #expect(
            try fixture.rows("SELECT sqlstate, service_name FROM spo.service_error WHERE reference = $1", [reference])
                == [["P0001", "business_failure"]])
    }

    @Test func databaseErrorOfTheProcedureIsExecutionFailed() throws {
        let fixture = try Fixture()
        // Customer 100 has no funds: the procedure raises P0001 with a detail and a hint.
        let error = try fixture.expectError(
            fixture.execute("transfer", #"{"p_from": 100, "p_to": 1, "p_amount": 5}"#), "SP_EXECUTION_FAILED",
            status: 502)
        #expect(error["details"]?.arrayValue?.first?["sqlstate"] == .string("P0001"))
        #expect(error["details"]?.arrayValue?.first?["detail"] == .string("balance 0.00 < amount 5"))
        // An unknown customer fails the foreign key: 23503.
        let foreignKey = try fixture.expectError(
            fixture.execute("note_add", #"{"p_customer_id": 5000, "p_note": "x"}"#), "SP_EXECUTION_FAILED",
            status: 502)
        #expect(foreignKey["details"]?.arrayValue?.first?["sqlstate"] == .string("23503"))
        #expect(try fixture.value("SELECT count(*) FROM demo.order_note") == "0")
    }

    @Test func unreachableDatabaseIsConnectionFailed() throws {
        let fixture = try Fixture()
        // A socket directory where nothing listens.
        let nowhere = NSTemporaryDirectory() + "spo-nowhere-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: nowhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: nowhere) }
        try fixture.database.execute(
            "UPDATE spo.connection SET conninfo = $1 WHERE name = 'demo'",
            ["host=\(nowhere) port=\(TestCluster.port) dbname=demo user=postgres connect_timeout=2"])
        try fixture.reload()

        let started = Date()
        let reply = fixture.execute("customer_get", #"{"p_id": 1}"#)
        let error = try fixture.expectError(reply, "DB_CONNECTION_FAILED", status: 503)
        #expect(Date().timeIntervalSince(started) < 5)
        let sqlstate = error["details"]?.arrayValue?.first?["sqlstate"]?.stringValue ?? ""
        #expect(sqlstate.hasPrefix("08"), "\(sqlstate)")
        let executionID = try #require(reply.header("X-Execution-ID"))
        #expect(
            try fixture.rows(
                "SELECT status, error_code, attempts::text FROM spo.service_execution WHERE id = $1", [executionID])
                == [["failed", "DB_CONNECTION_FAILED", "3"]])
        #expect(
            try fixture.value(
                "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM spo.service_log WHERE execution_id = $1",
                [executionID]) == "connection_failed,connection_failed,connection_failed")
    }

    @Test func slowProcedureTimesOutAndIsCancelledInTheDatabase() throws {
        let fixture = try Fixture()
        let started = Date()
        let reply = fixture.execute("slow", #"{"p_seconds": 5}"#)
        let elapsed = Date().timeIntervalSince(started)
        let error = try fixture.expectError(reply, "TIMEOUT", status: 504)
        #expect(elapsed >= 0.9 && elapsed < 1.5, "took \(elapsed) s")
        #expect(error["details"]?.arrayValue?.first?["timeout_ms"] == .number(1000))
        let executionID = try #require(reply.header("X-Execution-ID"))
        #expect(
            try fixture.rows("SELECT status, error_code FROM spo.service_execution WHERE id = $1", [executionID])
                == [["timeout", "TIMEOUT"]])

        // The statement was cancelled in the server, not just abandoned.
        let sleeping = """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
              AND (wait_event = 'PgSleep' OR query LIKE '%slow%')
            """
        #expect(try eventually(within: 2) { try fixture.value(sleeping) == "0" })
    }

    @Test func fastEnoughSleepSucceeds() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("slow", #"{"p_seconds": 0.05}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .string("done"))
    }

    @Test func nonJSONBodyIsUnsupportedMediaType() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("customer_get", "p_id=1", headers: ["Content-Type": "text/plain"])
        try fixture.expectError(reply, "UNSUPPORTED_MEDIA_TYPE", status: 415)
        // Without a body the content type does not matter.
        let empty = fixture.execute("customer_count", "", headers: ["Content-Type": "text/plain"])
        #expect(empty.status == 200, "\(empty.text)")
        // application/json with a charset, and +json types, are JSON.
        let charset = fixture.execute(
            "customer_get", #"{"p_id": 3}"#, headers: ["Content-Type": "application/json; charset=utf-8"])
        #expect(charset.status == 200)
    }

    @Test func unknownEndpointIsNotFound() throws {
        let fixture = try Fixture()
        for (method, path) in [
            ("GET", "/api/nothing"), ("POST", "/api/services/customer_get/run"), ("GET", "/elsewhere"),
        ] {
            let reply = fixture.send(HTTPRequest(method: method, path: path))
            try fixture.expectError(reply, "NOT_FOUND", status: 404)
        }
    }

    @Test func wrongMethodIsMethodNotAllowed() throws {
        let fixture = try Fixture()
        let reply = fixture.send(HTTPRequest(method: "GET", path: "/api/services/customer_get/execute"))
        try fixture.expectError(reply, "METHOD_NOT_ALLOWED", status: 405)
        #expect(reply.header("Allow") == "POST")
        let envelope = fixture.send(HTTPRequest(method: "DELETE", path: "/api/execute"))
        try fixture.expectError(envelope, "METHOD_NOT_ALLOWED", status: 405)
        let health = fixture.send(HTTPRequest(method: "POST", path: "/api/health"))
        try fixture.expectError(health, "METHOD_NOT_ALLOWED", status: 405)
        #expect(health.header("Allow") == "GET, HEAD")
    }

    @Test func envelopeWithoutServiceIsInvalidParameters() throws {
        let fixture = try Fixture()
        let missing = try fixture.expectError(
            fixture.post("/api/execute", #"{"parameters": {}}"#), "INVALID_PARAMETERS", status: 400)
        #expect(problems(missing).map(\.0) == ["service"])
        let extra = try fixture.expectError(
            fixture.post("/api/execute", #"{"service": "customer_count", "params": {}}"#), "INVALID_PARAMETERS",
            status: 400)
        #expect(problems(extra).map(\.0) == ["params"])
    }
}
