import Foundation
import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

/// A parameter marked sensitive reaches the procedure but no record: the audit keeps the marker,
/// a re-run must be sent the value again, and the service is never queued.
@Suite struct SensitiveParameterTests {
    /// The example `note_add` with its `p_note` marked sensitive.
    private func fixture(_ fixture: Fixture? = nil) throws -> Fixture {
        let fixture = try fixture ?? Fixture()
        try fixture.database.execute(
            """
            UPDATE spo.service_configuration c SET parameters = (
                SELECT jsonb_agg(CASE WHEN p->>'name' = 'p_note' THEN p || '{"sensitive": true}' ELSE p END
                                 ORDER BY n)
                FROM jsonb_array_elements(c.parameters) WITH ORDINALITY AS x(p, n))
            FROM spo.service s WHERE s.id = c.service_id AND s.name = 'note_add'
            """)
        try fixture.reload()
        return fixture
    }

    /// Every row of every table of the control schema, as text.
    private func controlTables(_ fixture: Fixture) throws -> String {
        let tables = try fixture.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'spo'").compactMap(\.first)
        return try tables.map { try fixture.rows("SELECT t::text FROM spo.\($0!) t").description }.joined()
    }

    @Test func theValueIsCalledWithButNeverRecorded() throws {
        let fixture = try fixture()
        let secret = "s3nsitive-" + UUID().uuidString
        let reply = fixture.execute("note_add", #"{"p_customer_id": 1, "p_note": "\#(secret)"}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(try fixture.value("SELECT count(*) FROM demo.order_note WHERE note = $1", [secret]) == "1")
        let id = try #require(reply.header("X-Execution-ID"))
        #expect(
            try fixture.value("SELECT parameters::text FROM spo.service_execution WHERE id = $1", [id])
                == #"{"p_note": "[redacted]", "p_customer_id": 1}"#)
        // Rejected input is recorded redacted too.
        let rejected = fixture.execute("note_add", #"{"p_customer_id": 0, "p_note": "\#(secret)"}"#)
        #expect(rejected.status == 400)
        #expect(!(try controlTables(fixture)).contains(secret))
    }

    @Test func reprocessingNeedsTheValueAgain() throws {
        let admin = try AdminAPITests.Admin()
        let fixture = try fixture(admin.fixture)
        let asAdmin = ["authorization": "Bearer \(admin.key)"]
        let secret = "s3nsitive-" + UUID().uuidString
        let failed = fixture.execute(
            "note_add", #"{"p_customer_id": 2000000000, "p_note": "\#(secret)"}"#, headers: asAdmin)
        try fixture.expectError(failed, "SP_EXECUTION_FAILED", status: 409)
        let id = try #require(failed.header("X-Execution-ID"))
        for body in [#"{"reason": "again"}"#, #"{"parameters": {"p_customer_id": 1, "p_note": "[redacted]"}}"#] {
            let refused = fixture.post("/api/executions/\(id)/reprocess", body, headers: asAdmin)
            let error = try fixture.expectError(refused, "INVALID_PARAMETERS", status: 400)
            #expect(error["details"]?.arrayValue?.compactMap { $0["parameter"]?.stringValue } == ["p_note"])
        }
        #expect(try fixture.value("SELECT count(*) FROM spo.service_reprocessing") == "0", "nothing was claimed")
        let rerun = fixture.post(
            "/api/executions/\(id)/reprocess", #"{"parameters": {"p_customer_id": 1, "p_note": "\#(secret)"}}"#,
            headers: asAdmin)
        #expect(rerun.status == 200, "\(rerun.text)")
        #expect(try fixture.value("SELECT count(*) FROM demo.order_note WHERE note = $1", [secret]) == "1")
        #expect(!(try controlTables(fixture)).contains(secret))
    }

    @Test func aServiceWithSensitiveParametersIsNotQueued() throws {
        let fixture = try fixture()
        let secret = "s3nsitive-" + UUID().uuidString
        let reply = fixture.execute(
            "note_add", #"{"p_customer_id": 1, "p_note": "\#(secret)"}"#, headers: ["prefer": "respond-async"])
        let error = try fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        #expect(error["details"]?.arrayValue?.first?["problem"]?.stringValue?.contains("cannot be queued") == true)
        #expect(try fixture.value("SELECT count(*) FROM spo.execution_job") == "0")
        #expect(try fixture.value("SELECT count(*) FROM demo.order_note WHERE note = $1", [secret]) == "0")
        #expect(!(try controlTables(fixture)).contains(secret))
    }
}
