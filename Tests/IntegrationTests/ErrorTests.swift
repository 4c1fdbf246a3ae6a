import Foundation
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

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
        let admin = try APIKeyStore.create(name: "ops", role: .admin, grants: [], on: fixture.database)
        try fixture.reload()
        let error = try fixture.expectError(
            fixture.execute("business_failure", #"{"p_code": "E042"}"#, headers: ["authorization": "Bearer \(admin)"]),
            "SP_EXECUTION_FAILED", status: 422)
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
        // Customer 100 has no funds: the procedure raises P0001 with a detail and a hint, which the
        // audit keeps and an anonymous caller does not see.
        let error = try fixture.expectError(
            fixture.execute("transfer", #"{"p_from": 100, "p_to": 1, "p_amount": 5}"#), "SP_EXECUTION_FAILED",
            status: 422)
        #expect(error["details"]?.arrayValue?.first?["sqlstate"] == .string("P0001"))
        #expect(error["details"]?.arrayValue?.first?["detail"] == nil)
        #expect(
            try fixture.value(
                "SELECT detail->0->>'detail' FROM spo.service_error WHERE reference = $1",
                [error["reference"]?.stringValue]) == "balance 0.00 < amount 5")
        // An unknown customer fails the foreign key: 23503, a conflict with the stored state.
        let foreignKey = try fixture.expectError(
            fixture.execute("note_add", #"{"p_customer_id": 5000, "p_note": "x"}"#), "SP_EXECUTION_FAILED",
            status: 409)
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
        // libpq's text names the socket path and the server: clients get a generic sentence.
        #expect(!reply.text.contains(nowhere) && !reply.text.contains("socket") && !reply.text.contains(".s.PGSQL"))
        #expect(error["details"]?.arrayValue?.first?["message"] == .string("could not connect to the database"))
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
        #expect(reply.header("Allow") == "POST, OPTIONS")
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

/// Whose fault an execution error is (the status by SQLSTATE, with a service's overrides), who
/// sees its detail and hint, and the bounds on patterns and problem lists — through real
/// procedures, administration writes and keys.
@Suite struct ExecutionErrorStatusTests {
    /// A fixture with an admin key and an executor key for every service.
    struct Keys {
        let fixture: Fixture
        let admin: String
        let executor: String

        init() throws {
            fixture = try Fixture()
            admin = try APIKeyStore.create(name: "ops", role: .admin, grants: [], on: fixture.database)
            executor = try APIKeyStore.create(name: "gateway", role: .executor, grants: ["*"], on: fixture.database)
            try fixture.reload()
            for statement in [
                "CREATE TABLE demo.unique_code (code text PRIMARY KEY)",
                "INSERT INTO demo.unique_code VALUES ('taken')",
                """
                CREATE FUNCTION demo.claim_code(p_code text) RETURNS void LANGUAGE sql
                    AS $$ INSERT INTO demo.unique_code VALUES (p_code) $$
                """,
                "CREATE FUNCTION demo.divide(p_by int) RETURNS int LANGUAGE sql AS $$ SELECT 10 / p_by $$",
                """
                CREATE FUNCTION demo.raise_state(p_state text) RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION USING ERRCODE = p_state, MESSAGE = 'raised ' || p_state,
                        DETAIL = 'another customer: c7@example.com', HINT = 'ask support';
                END $$
                """,
            ] {
                try fixture.database.execute(statement)
            }
        }

        func send(_ method: String, _ path: String, _ body: String = "", key: String) -> Reply {
            fixture.send(
                HTTPRequest(
                    method: method, path: path,
                    headers: ["authorization": "Bearer \(key)", "content-type": "application/json"],
                    body: Array(body.utf8)))
        }

        /// Creates or replaces a service through the admin API; the answer must be 200 or 201.
        @discardableResult
        func put(_ name: String, _ document: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Reply
        {
            let reply = send("PUT", "/api/services/\(name)", document, key: admin)
            #expect(reply.status == 200 || reply.status == 201, "\(reply.text)", sourceLocation: sourceLocation)
            try fixture.reload()
            return reply
        }

        func execute(_ service: String, _ body: String, key: String? = nil) -> Reply {
            send("POST", "/api/services/\(service)/execute", body, key: key ?? executor)
        }
    }

    private func service(_ procedure: String, _ parameter: String, _ type: String, errors: String = "") -> String {
        #"{"connection": "demo", "procedure": "demo.\#(procedure)", "parameters": [{"name": "\#(parameter)", "type": "\#(type)", "required": true}]\#(errors)}"#
    }

    @Test func theStatusFollowsTheSQLStateOfRealErrors() throws {
        let keys = try Keys()
        try keys.put("claim", service("claim_code", "p_code", "text"))
        try keys.put("divide", service("divide", "p_by", "integer"))
        try keys.put("raise", service("raise_state", "p_state", "text"))
        let cases: [(String, String, String, Int)] = [
            ("claim", #"{"p_code": "taken"}"#, "23505", 409),  // a unique violation
            ("divide", #"{"p_by": 0}"#, "22012", 422),  // division by zero, a data exception
            ("raise", #"{"p_state": "P0001"}"#, "P0001", 422),  // a business rule
            ("raise", #"{"p_state": "42501"}"#, "42501", 403),  // insufficient privilege
            ("raise", #"{"p_state": "XX001"}"#, "XX001", 502),  // the database's own failure
            ("raise", #"{"p_state": "P0002"}"#, "P0002", 502),
        ]
        for (name, body, sqlstate, status) in cases {
            let reply = keys.execute(name, body)
            let error = try keys.fixture.expectError(reply, "SP_EXECUTION_FAILED", status: status)
            #expect(error["details"]?.arrayValue?.first?["sqlstate"] == .string(sqlstate))
            #expect(
                try keys.fixture.value(
                    "SELECT http_status::text FROM spo.service_execution WHERE id = $1",
                    [reply.header("X-Execution-ID")])
                    == String(status))
        }
        #expect(try keys.fixture.value("SELECT count(*) FROM demo.unique_code") == "1")
    }

    @Test func aServiceOverrideChangesTheStatusAndRoundTrips() throws {
        let keys = try Keys()
        try keys.put(
            "raise", service("raise_state", "p_state", "text", errors: #", "errors": {"P0001": 409, "42": 400}"#))
        let reply = keys.execute("raise", #"{"p_state": "P0001"}"#)
        try keys.fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 409)
        #expect(
            try keys.fixture.value(
                "SELECT http_status::text FROM spo.service_execution WHERE id = $1", [reply.header("X-Execution-ID")])
                == "409")
        // The class override covers 42501 too; what no override names keeps the default table.
        try keys.fixture.expectError(
            keys.execute("raise", #"{"p_state": "42501"}"#), "SP_EXECUTION_FAILED", status: 400)
        try keys.fixture.expectError(
            keys.execute("raise", #"{"p_state": "22023"}"#), "SP_EXECUTION_FAILED", status: 422)

        // GET → PUT as it is keeps the overrides, and export carries them.
        let read = keys.send("GET", "/api/services/raise", key: keys.admin)
        #expect(read.json["errors"] == .object(["42": .number(400), "P0001": .number(409)]))
        try keys.put("raise", read.text)
        #expect(keys.send("GET", "/api/services/raise", key: keys.admin).json["errors"] == read.json["errors"])
        let exported = ConfigurationImporter.export(try ConfigurationStore.load(from: keys.fixture.database))
        let exportedService = exported["services"]?.arrayValue?.first { $0["name"] == .string("raise") }
        #expect(exportedService?["errors"] == read.json["errors"])
        // And the document it exports imports again unchanged.
        try keys.fixture.database.execute(
            "UPDATE spo.service_configuration SET error_statuses = '{}' WHERE service_id = (SELECT id FROM spo.service WHERE name = 'raise')"
        )
        _ = try ConfigurationImporter(control: keys.fixture.database).importDocument(exported)
        #expect(
            try keys.fixture.value(
                "SELECT error_statuses::text FROM spo.service_configuration c JOIN spo.service s ON s.id = c.service_id WHERE s.name = 'raise'"
            )
                == #"{"42": 400, "P0001": 409}"#)
        // Dropping the member drops the overrides.
        try keys.put("raise", service("raise_state", "p_state", "text"))
        try keys.fixture.expectError(
            keys.execute("raise", #"{"p_state": "P0001"}"#), "SP_EXECUTION_FAILED", status: 422)
    }

    @Test func aBadOverrideIsRefusedAndChangesNothing() throws {
        let keys = try Keys()
        try keys.put("raise", service("raise_state", "p_state", "text"))
        let reply = keys.send(
            "PUT", "/api/services/raise",
            service("raise_state", "p_state", "text", errors: #", "errors": {"P0001": 200, "p01": 409}"#),
            key: keys.admin)
        let error = try keys.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        #expect(
            error["details"]?.arrayValue?.compactMap { $0["parameter"]?.stringValue }
                == ["service.errors.P0001", "service.errors.p01"])
        #expect(try keys.fixture.value("SELECT version::text FROM spo.service WHERE name = 'raise'") == "1")
    }

    @Test func detailAndHintReachAdminKeysAndTheAuditOnly() throws {
        let keys = try Keys()
        try keys.put("raise", service("raise_state", "p_state", "text"))
        let gateway = try keys.fixture.expectError(
            keys.execute("raise", #"{"p_state": "P0001"}"#), "SP_EXECUTION_FAILED", status: 422)
        #expect(
            gateway["details"]
                == .array([.object(["sqlstate": .string("P0001"), "message": .string("raised P0001")])]))
        let admin = try keys.fixture.expectError(
            keys.execute("raise", #"{"p_state": "P0001"}"#, key: keys.admin), "SP_EXECUTION_FAILED", status: 422)
        #expect(admin["details"]?.arrayValue?.first?["detail"] == .string("another customer: c7@example.com"))
        #expect(admin["details"]?.arrayValue?.first?["hint"] == .string("ask support"))
        // The audit keeps them for both; only administrators read it.
        let reference = try #require(gateway["reference"]?.stringValue)
        #expect(
            try keys.fixture.rows(
                "SELECT detail->0->>'detail', detail->0->>'hint' FROM spo.service_error WHERE reference = $1",
                [reference]) == [["another customer: c7@example.com", "ask support"]])
        #expect(keys.send("GET", "/api/errors/\(reference)", key: keys.executor).status == 403)
        let stored = keys.send("GET", "/api/errors/\(reference)", key: keys.admin)
        #expect(stored.json["detail"]?.arrayValue?.first?["hint"] == .string("ask support"))
    }

    @Test func aPathologicalPatternAnswersInMilliseconds() throws {
        let keys = try Keys()
        try keys.put(
            "raise",
            #"{"connection": "demo", "procedure": "demo.raise_state", "parameters": [{"name": "p_state", "type": "text", "required": true, "pattern": "([a-z]+)+$"}]}"#
        )
        let started = ContinuousClock.now
        let reply = keys.execute("raise", #"{"p_state": "\#(String(repeating: "a", count: 10_000))!"}"#)
        let took = ContinuousClock.now - started
        // ICU's backtracking matcher (used before) spent 3–6 s here, a CPU pinned per request.
        #expect(took < .seconds(1), "took \(took)")
        try keys.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        // What cannot be matched in linear time is refused when written, and changes nothing.
        let refused = keys.send(
            "PUT", "/api/services/raise",
            #"{"connection": "demo", "procedure": "demo.raise_state", "parameters": [{"name": "p_state", "type": "text", "required": true, "pattern": "(a)\\1"}]}"#,
            key: keys.admin)
        let error = try keys.fixture.expectError(refused, "INVALID_PARAMETERS", status: 400)
        #expect(error["details"]?.arrayValue?.first?["problem"]?.stringValue?.contains("backreferences") == true)
        #expect(try keys.fixture.value("SELECT version::text FROM spo.service WHERE name = 'raise'") == "1")
    }

    @Test func theProblemListOfAHugeArrayIsCapped() throws {
        let keys = try Keys()
        // Past the default array limit, which would refuse the array before its elements are checked.
        keys.fixture.handler.limits.maxArrayItems = 100_000
        let strings = Array(repeating: #""x""#, count: 50_000).joined(separator: ",")
        let reply = keys.execute("echo_types", #"{"p_int_array": [\#(strings)]}"#)
        let error = try keys.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        let details = try #require(error["details"]?.arrayValue)
        #expect(details.count == APIError.maxListedProblems + 1)
        #expect(details.last?["problem"] == .string("49900 more problems not listed"))
        #expect(reply.text.utf8.count < 20_000)
        #expect(
            try keys.fixture.value(
                "SELECT length(detail::text) < 20000 FROM spo.service_error WHERE reference = $1",
                [error["reference"]?.stringValue]) == "t")
    }
}
