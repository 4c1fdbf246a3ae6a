import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// `kind: "parallel"` services against a real PostgreSQL: members run at the same time on
/// connections of their own, each with its own timeout and breaker; optional members degrade,
/// required ones fail the call; every member is audited under its parent.
@Suite struct ParallelTests {
    static let sql = """
        CREATE FUNCTION public.nap(p_label text) RETURNS TABLE (label text, pid int) LANGUAGE sql AS $$
            SELECT p_label, pg_backend_pid() FROM pg_sleep(0.2) $$;
        CREATE FUNCTION public.slow(p_seconds float8) RETURNS text LANGUAGE sql AS $$
            SELECT 'slept' FROM pg_sleep(p_seconds) $$;
        CREATE FUNCTION public.double_it(p_n int) RETURNS int LANGUAGE sql AS 'SELECT p_n * 2';
        CREATE FUNCTION public.refuse() RETURNS int LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'not today' USING ERRCODE = 'XX001'; END $$;
        """

    /// Member services on `demo` and on `side` (a second connection to the same database, so a
    /// test can break it), and the composite `trio` of three 200 ms naps.
    static func fixture(extraServices: String = "") throws -> Fixture {
        let fixture = try Fixture()
        let conninfo = fixture.conninfo
        try fixture.register(
            sql: sql,
            services: """
                {"connections": [{"name": "side", "conninfo": "\(conninfo)",
                                  "breaker": {"window_calls": 1, "minimum_calls": 1, "open_ms": 600000}}],
                 "services": [
                   {"name": "nap", "connection": "demo", "procedure": "public.nap", "parameters": "discover", "timeout_ms": 5000},
                   {"name": "slow", "connection": "demo", "procedure": "public.slow", "parameters": "discover", "timeout_ms": 5000},
                   {"name": "double_it", "connection": "demo", "procedure": "public.double_it", "parameters": "discover"},
                   {"name": "refuse", "connection": "demo", "procedure": "public.refuse", "retry_policy": "none"},
                   {"name": "side_double", "connection": "side", "procedure": "public.double_it", "parameters": "discover",
                    "retry_policy": "none"},
                   {"name": "trio", "kind": "parallel", "timeout_ms": 3000, "parameters": [],
                    "members": [
                      {"name": "a", "service": "nap", "parameters": {"p_label": "a"}},
                      {"name": "b", "service": "nap", "parameters": {"p_label": "b"}},
                      {"name": "c", "service": "nap", "parameters": {"p_label": "c"}}]}
                   \(extraServices)]}
                """)
        return fixture
    }

    /// `side` now points at a port nobody listens on.
    static func breakSide(_ fixture: Fixture) throws {
        try fixture.database.execute(
            "UPDATE spo.connection SET conninfo = 'host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2' "
                + "WHERE name = 'side'")
        try fixture.reload()
    }

    @Test func threeMembersSleepingTwoHundredMillisecondsFinishTogether() throws {
        let fixture = try Self.fixture()
        _ = fixture.execute("trio")  // opens the member connections once
        let started = ContinuousClock.now
        let reply = fixture.execute("trio")
        let wall = started.duration(to: .now)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(wall < .milliseconds(350), "wall time \(wall)")
        let duration = try #require(reply.json["duration_ms"]?.doubleValue)
        #expect(duration >= 200 && duration < 350, "duration_ms \(duration)")
        let pids = Set(["a", "b", "c"].compactMap { reply.data?[$0]?.arrayValue?.first?["pid"]?.intValue })
        #expect(pids.count == 3, "each member on its own connection: \(reply.text)")
        #expect(reply.data?["b"]?.arrayValue?.first?["label"] == .string("b"))
        for name in ["a", "b", "c"] {
            let meta = try #require(reply.json["meta"]?["members"]?[name])
            #expect(meta["status"] == .string("succeeded"))
            #expect((meta["duration_ms"]?.doubleValue ?? 0) >= 200)
        }
        #expect(reply.json["meta"]?["partial"] == .bool(false))
    }

    @Test func anOptionalMemberFailingGivesAPartialAnswerNamingIt() throws {
        let fixture = try Self.fixture(
            extraServices: """
                , {"name": "pair", "kind": "parallel", "parameters": [{"name": "p_n", "type": "integer", "required": true}],
                   "members": [
                     {"name": "here", "service": "double_it", "parameters": {"p_n": "$.input.p_n"}},
                     {"name": "there", "service": "side_double", "parameters": {"p_n": "$.input.p_n"},
                      "required": false}]}
                """)
        try Self.breakSide(fixture)
        let reply = fixture.execute("pair", #"{"p_n": 21}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data?["here"] == .number(42))
        #expect(reply.data?["there"] == .null)
        let there = try #require(reply.json["meta"]?["members"]?["there"])
        #expect(there["status"] == .string("failed"))
        #expect(there["error"]?["code"] == .string("DB_CONNECTION_FAILED"))
        #expect(reply.json["meta"]?["partial"] == .bool(true))
    }

    @Test func aRequiredMemberFailingFailsTheCallWithItsError() throws {
        let fixture = try Self.fixture(
            extraServices: """
                , {"name": "strict", "kind": "parallel", "parameters": [],
                   "members": [{"name": "ok", "service": "nap", "parameters": {"p_label": "x"}},
                               {"name": "no", "service": "refuse", "required": true}]}
                """)
        let reply = fixture.execute("strict")
        let error = try fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 502)
        let naming = try #require(error["details"]?.arrayValue?.first { $0["member"] != nil })
        #expect(naming["member"] == .string("no"))
        #expect(naming["meta"]?["members"]?["ok"]?["status"] == .string("succeeded"))
        #expect(naming["meta"]?["members"]?["no"]?["error"]?["code"] == .string("SP_EXECUTION_FAILED"))
        let id = try #require(reply.header("X-Execution-ID"))
        #expect(
            try fixture.rows(
                "SELECT member_name, status FROM spo.service_execution WHERE parent_execution_id = $1 ORDER BY 1",
                [id]) == [["no", "failed"], ["ok", "succeeded"]])
    }

    @Test func eachMemberHasItsOwnTimeout() throws {
        let fixture = try Self.fixture(
            extraServices: """
                , {"name": "hasty", "kind": "parallel", "timeout_ms": 4000, "parameters": [],
                   "members": [{"name": "quick", "service": "double_it", "parameters": {"p_n": 2}},
                               {"name": "sleepy", "service": "slow", "parameters": {"p_seconds": 3},
                                "required": false, "timeout_ms": 150}]}
                """)
        let started = ContinuousClock.now
        let reply = fixture.execute("hasty")
        #expect(started.duration(to: .now) < .milliseconds(1500))
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data?["quick"] == .number(4))
        let sleepy = try #require(reply.json["meta"]?["members"]?["sleepy"])
        #expect(sleepy["status"] == .string("timeout"))
        #expect(sleepy["error"]?["code"] == .string("TIMEOUT"))
        // The cancelled member's connection is still good for the next call.
        #expect(fixture.execute("hasty").json["meta"]?["members"]?["sleepy"]?["status"] == .string("timeout"))
        #expect(fixture.execute("trio").status == 200)
    }

    @Test func aMemberBehindAnOpenBreakerIsRefusedWithoutConnecting() throws {
        let fixture = try Self.fixture(
            extraServices: """
                , {"name": "guarded", "kind": "parallel", "parameters": [],
                   "members": [{"name": "here", "service": "double_it", "parameters": {"p_n": 1}},
                               {"name": "there", "service": "side_double", "parameters": {"p_n": 1},
                                "required": false}]}
                """)
        try Self.breakSide(fixture)
        let first = fixture.execute("guarded")
        #expect(first.json["meta"]?["members"]?["there"]?["error"]?["code"] == .string("DB_CONNECTION_FAILED"))
        let second = fixture.execute("guarded")
        #expect(second.status == 200, "\(second.text)")
        #expect(second.data?["here"] == .number(2))
        let there = try #require(second.json["meta"]?["members"]?["there"])
        #expect(there["error"]?["code"] == .string("CIRCUIT_OPEN"), "\(second.text)")
        #expect((there["duration_ms"]?.doubleValue ?? 99) < 50)
    }

    @Test func membersAreAuditedUnderTheirParentAndListedByIt() throws {
        let fixture = try Self.fixture()
        let reply = fixture.execute("trio")
        let id = try #require(reply.header("X-Execution-ID"))
        #expect(
            try fixture.rows(
                "SELECT service_name, status, parent_execution_id::text FROM spo.service_execution WHERE id = $1", [id])
                == [["trio", "succeeded", nil]])
        let members = try fixture.rows(
            """
            SELECT member_name, service_name, status, id::text FROM spo.service_execution
            WHERE parent_execution_id = $1 ORDER BY member_name
            """, [id])
        #expect(
            members.map { Array($0.prefix(3)) } == [
                ["a", "nap", "succeeded"], ["b", "nap", "succeeded"], ["c", "nap", "succeeded"],
            ])
        #expect(
            members.map { $0[3] }
                == ["a", "b", "c"].map { reply.json["meta"]?["members"]?[$0]?["execution_id"]?.stringValue })
        let read = try ExecutionQueries(control: fixture.control).execution(id)
        guard case .raw(let text) = read else { Issue.record("not raw"); return }
        let listed = try JSONValue.parse(text)
        #expect(listed["members"]?.arrayValue?.compactMap { $0["member"]?.stringValue }.sorted() == ["a", "b", "c"])
    }

    @Test func anIdempotentReplayRunsNoMemberAgain() throws {
        let fixture = try Self.fixture()
        let key = freshKey()
        let first = fixture.execute("trio", headers: ["Idempotency-Key": key])
        #expect(first.status == 200, "\(first.text)")
        let again = fixture.execute("trio", headers: ["Idempotency-Key": key])
        #expect(again.status == 200)
        #expect(again.header("Idempotent-Replayed") == "true")
        #expect(again.text == first.text)
        #expect(
            try fixture.value(
                "SELECT count(*)::text FROM spo.service_execution WHERE parent_execution_id = $1",
                [first.header("X-Execution-ID")]) == "3")
        #expect(try fixture.value("SELECT count(*)::text FROM spo.service_execution WHERE service_name = 'nap'") == "3")
    }

    @Test func anAsyncCallIsRunByTheConsumerWithItsMembers() throws {
        let fixture = try Self.fixture()
        let reply = fixture.execute("trio", headers: ["Prefer": "respond-async"])
        #expect(reply.status == 202, "\(reply.text)")
        let id = try #require(reply.json["execution_id"]?.stringValue)
        let consumer = Consumer(controlConninfo: fixture.conninfo, name: "test")
        #expect(consumer.drain() >= 1)
        #expect(try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1::uuid", [id]) == "succeeded")
        #expect(
            try fixture.value(
                "SELECT count(*)::text FROM spo.service_execution WHERE parent_execution_id = $1::uuid", [id]) == "3")
        let data = try fixture.json("SELECT result FROM spo.execution_job WHERE execution_id = $1::uuid", [id])
        #expect(data["c"]?.arrayValue?.first?["label"] == .string("c"))
    }

    @Test func aDocumentRoundTripsThroughTheStore() throws {
        let fixture = try Self.fixture()
        let stored = try #require(fixture.handler.configuration.services["trio"])
        #expect(stored.kind == .parallel)
        #expect(stored.members.map(\.name) == ["a", "b", "c"])
        let document = ServiceDocument.document(for: stored)
        #expect(document["connection"] == nil)
        let draft = try ServiceDocument.draft(from: document)
        #expect(draft.members == stored.members)
        _ = try ConfigurationImporter(control: fixture.database).importDocument(document)
        try fixture.reload()
        #expect(fixture.handler.configuration.services["trio"]?.members == stored.members)
    }

    @Test func configurationErrorsAreRefusedAtWriteTime() throws {
        let fixture = try Self.fixture()
        let problems = try #require(
            try fixture.importProblems(
                """
                [{"name": "bad", "kind": "parallel", "parameters": [{"name": "p_n", "type": "integer"}],
                  "members": [
                    {"name": "m", "service": "ghost"},
                    {"name": "m", "service": "double_it", "parameters": {"p_n": "$.input.p_missing"}},
                    {"name": "n", "service": "double_it"},
                    {"name": "o", "service": "double_it", "parameters": {"p_n": 1, "p_other": 2}},
                    {"name": "p", "service": "trio"},
                    {"name": "q", "service": "double_it", "parameters": {"p_n": "$.steps.x.data"}}]}]
                """))
        let text = problems.map { "\($0.path): \($0.problem)" }.joined(separator: "\n")
        #expect(text.contains("members[0].service: no service named ghost"), "\(text)")
        #expect(text.contains("members[1].name: m is listed more than once"))
        #expect(text.contains("members[1].parameters.p_n: $.input.p_missing names no parameter"))
        #expect(text.contains("members[2].parameters: double_it requires p_n"))
        #expect(text.contains("members[3].parameters.p_other: double_it has no input parameter p_other"))
        #expect(text.contains("members[4].service: trio is a parallel service"))
        #expect(text.contains("members[5].parameters.p_n: $.steps.x.data: a parallel member reads only"))
        #expect(try fixture.value("SELECT count(*)::text FROM spo.service WHERE name = 'bad'") == "0")
        let notADocument = try #require(
            try fixture.importProblems(
                #"[{"name": "bad2", "kind": "parallel", "connection": "demo", "parameters": [], "members": [{"name": "x", "service": "nap", "parameters": {"p_label": "$oops"}}]}]"#
            ))
        #expect(notADocument.contains { $0.path.hasSuffix("connection") })
        #expect(notADocument.contains { $0.path.hasSuffix("members[0].parameters.p_label") })
    }

    @Test func deletingAMemberServiceIsRefusedNamingTheComposite() throws {
        let fixture = try Self.fixture()
        let writes = AdminWrites(control: fixture.control, targets: TargetConnections())
        #expect(throws: APIError.self) {
            _ = try writes.respond(to: AdminRoute(.deleteService, ["nap"]), method: "DELETE", body: .null)
        }
        do {
            _ = try writes.respond(to: AdminRoute(.deleteService, ["nap"]), method: "DELETE", body: .null)
        } catch {
            #expect(error.code == .conflict)
            #expect(error.message.contains("trio"))
        }
        #expect(try fixture.value("SELECT count(*)::text FROM spo.service WHERE name = 'nap'") == "1")
    }
}
