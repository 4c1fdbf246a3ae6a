import Foundation
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

/// The limits on a request's JSON and on a call's result, through `RequestHandler` against a
/// real database: each refusal is a 400 (or 502 `RESULT_TOO_LARGE`) naming its limit, audited,
/// and nothing is run.
@Suite struct RequestLimitsIntegrationTests {
    static let functions = """
        CREATE FUNCTION demo.numbers(p_count int) RETURNS SETOF int
            LANGUAGE sql STABLE AS $$ SELECT generate_series(1, p_count) $$;
        CREATE FUNCTION demo.blob(p_bytes int DEFAULT NULL) RETURNS text
            LANGUAGE sql STABLE AS $$ SELECT CASE WHEN p_bytes IS NULL THEN NULL ELSE repeat('x', p_bytes) END $$;
        CREATE PROCEDURE demo.padded(IN p_bytes int, OUT p_text text)
            LANGUAGE sql AS $$ SELECT repeat('y', p_bytes) $$;
        CREATE FUNCTION demo.echo_doc(p_doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT p_doc $$;
        """
    static let services = """
        [{"name": "numbers", "connection": "demo", "procedure": "demo.numbers",
          "parameters": [{"name": "p_count", "type": "integer", "required": true}]},
         {"name": "blob", "connection": "demo", "procedure": "demo.blob",
          "parameters": [{"name": "p_bytes", "type": "integer"}]},
         {"name": "padded", "connection": "demo", "procedure": "demo.padded",
          "parameters": [{"name": "p_bytes", "type": "integer", "required": true},
                         {"name": "p_text", "type": "text", "direction": "OUT"}]},
         {"name": "echo_doc", "connection": "demo", "procedure": "demo.echo_doc",
          "parameters": [{"name": "p_doc", "type": "jsonb", "required": true}]}]
        """

    static func fixture(maxResultBytes: Int = 1000) throws -> Fixture {
        let fixture = try Fixture()
        try fixture.register(sql: functions, services: services)
        fixture.handler.limits = RequestLimits(maxResultBytes: maxResultBytes)
        return fixture
    }

    @Test func aSetOverTheResultLimitIsRefusedAndTheConnectionServesTheNextCall() throws {
        let fixture = try Self.fixture()
        // 1..300 as a JSON array: "[1, 2, …, 300]" is 1,192 bytes.
        let reply = fixture.execute("numbers", #"{"p_count": 300}"#)
        let error = try fixture.expectError(reply, "RESULT_TOO_LARGE", status: 502)
        let message = error["message"]?.stringValue ?? ""
        #expect(message.contains("over the limit of 1000 (SPO_MAX_RESULT_BYTES)"), "\(message)")
        let id = try #require(reply.header("X-Execution-ID"))
        #expect(
            try fixture.rows(
                "SELECT status, error_code, http_status::text FROM spo.service_execution WHERE id = $1", [id])
                == [["failed", "RESULT_TOO_LARGE", "502"]])
        // Not retried (one attempt), and the same kept connection answers the next call.
        #expect(
            try fixture.value(
                "SELECT jsonb_array_length(attempt_log)::text FROM spo.service_execution WHERE id = $1", [id]) == "1")
        let small = fixture.execute("numbers", #"{"p_count": 200}"#)
        #expect(small.status == 200, "\(small.text)")
        #expect(small.data == (try fixture.json("SELECT json_agg(n) FROM generate_series(1, 200) AS n")))
    }

    @Test func theLimitIsOnBytesOfJSONExactly() throws {
        let fixture = try Self.fixture(maxResultBytes: 12)
        #expect(fixture.execute("blob", #"{"p_bytes": 10}"#).data == .string(String(repeating: "x", count: 10)))
        try fixture.expectError(fixture.execute("blob", #"{"p_bytes": 11}"#), "RESULT_TOO_LARGE", status: 502)
        // A NULL result is no result too large.
        let null = fixture.execute("blob", "{}")
        #expect(null.status == 200, "\(null.text)")
        #expect(null.data == .null)
        // An empty set is `[]`, within any limit.
        #expect(fixture.execute("numbers", #"{"p_count": 0}"#).data == .array([]))
    }

    @Test func aProceduresOutputsAreBoundedToo() throws {
        let fixture = try Self.fixture()
        #expect(fixture.execute("padded", #"{"p_bytes": 10}"#).data?["p_text"] == .string("yyyyyyyyyy"))
        try fixture.expectError(fixture.execute("padded", #"{"p_bytes": 5000}"#), "RESULT_TOO_LARGE", status: 502)
    }

    /// The rows read stop at the limit's count: a set of ten million rows answers at once.
    @Test func aHugeSetIsNotReadToTheEnd() throws {
        let fixture = try Self.fixture()
        let started = ContinuousClock.now
        try fixture.expectError(fixture.execute("numbers", #"{"p_count": 10000000}"#), "RESULT_TOO_LARGE", status: 502)
        #expect(started.duration(to: .now) < .seconds(3))
    }

    @Test func bodiesOverTheShapeLimitsAreRefusedNamingTheLimit() throws {
        let fixture = try Self.fixture()
        fixture.handler.limits = RequestLimits(maxDepth: 5, maxParameters: 3, maxStringLength: 50, maxArrayItems: 20)
        let cases: [(String, String, String)] = [
            (#"{"p_doc": {"a": {"b": {"c": {"d": {}}}}}}"#, "p_doc.a.b.c.d", "SPO_MAX_JSON_DEPTH"),
            (#"{"p_doc": "\#(String(repeating: "z", count: 51))"}"#, "p_doc", "SPO_MAX_STRING_LENGTH"),
            (#"{"p_doc": [\#((1...21).map(String.init).joined(separator: ","))]}"#, "p_doc", "SPO_MAX_ARRAY_ITEMS"),
        ]
        for (body, parameter, setting) in cases {
            let reply = fixture.execute("echo_doc", body)
            let error = try fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
            let detail = error["details"]?.arrayValue?.first
            #expect(detail?["parameter"] == .string(parameter), "\(reply.text)")
            #expect(detail?["problem"]?.stringValue?.contains(setting) == true, "\(reply.text)")
            // Audited as rejected, without the body that broke the limit.
            let id = try #require(reply.header("X-Execution-ID"))
            #expect(
                try fixture.rows(
                    "SELECT status, coalesce(parameters, 'null') = 'null' FROM spo.service_execution WHERE id = $1",
                    [id])
                    == [["rejected", "t"]])
        }
        let many = fixture.execute("echo_doc", #"{"p_doc": 1, "a": 1, "b": 2, "c": 3}"#)
        let error = try fixture.expectError(many, "INVALID_PARAMETERS", status: 400)
        #expect(error["message"]?.stringValue?.contains("SPO_MAX_PARAMETERS") == true, "\(many.text)")
        // Within every limit, the document reaches the routine whole.
        let fine = fixture.execute("echo_doc", #"{"p_doc": {"a": {"b": {"c": [1, "two"]}}}}"#)
        #expect(fine.status == 200, "\(fine.text)")
        #expect(fine.data == (try JSONValue.parse(#"{"a": {"b": {"c": [1, "two"]}}}"#)))
    }

    @Test func theEnvelopeAndAdministrationAreBoundedToo() throws {
        let fixture = try Self.fixture()
        fixture.handler.limits = RequestLimits(maxDepth: 3, maxParameters: 2)
        let envelope = fixture.post(
            "/api/execute", #"{"service": "echo_doc", "parameters": {"p_doc": 1, "x": 2, "y": 3}}"#)
        try fixture.expectError(envelope, "INVALID_PARAMETERS", status: 400)
        #expect(envelope.text.contains("SPO_MAX_PARAMETERS"))
        let key = try APIKeyStore.create(name: "limits-admin", role: .admin, grants: [], on: fixture.database)
        try fixture.reload()
        let deep = fixture.post(
            "/api/services", #"{"name": "x", "parameters": [[[[1]]]]}"#, headers: ["authorization": "Bearer \(key)"])
        try fixture.expectError(deep, "INVALID_PARAMETERS", status: 400)
        #expect(deep.text.contains("SPO_MAX_JSON_DEPTH"), "\(deep.text)")
        #expect(try fixture.value("SELECT count(*) FROM spo.service WHERE name = 'x'") == "0")
    }
}
