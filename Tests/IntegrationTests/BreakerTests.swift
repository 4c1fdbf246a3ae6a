import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Circuit breakers against a real target cluster that is stopped and started again: failures
/// open it, refused calls touch no database, probes close or reopen it, business errors never
/// count, the state is shared through the control database, and an admin can reset it.
@Suite(.serialized) struct BreakerTests {
    /// A fixture with a connection `remote` to a database of the target cluster, and two
    /// services on it: `remote_answer` (returns 42) and `remote_refuse` (raises P0001).
    struct Remote {
        let fixture: Fixture
        let target: TargetCluster

        init(breaker: String, retryPolicy: String = "none", timeoutMilliseconds: Int = 3000) throws {
            target = try TargetCluster.shared()
            let conninfo = try target.database(
                """
                CREATE FUNCTION public.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
                CREATE FUNCTION public.refuse() RETURNS int LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'not today'; END $$;
                """)
            fixture = try Fixture()
            try fixture.register(
                services: """
                    {"connections": [{"name": "remote", "conninfo": "\(conninfo)", "breaker": \(breaker)}],
                     "services": [
                       {"name": "remote_answer", "connection": "remote", "procedure": "public.answer",
                        "retry_policy": "\(retryPolicy)", "timeout_ms": \(timeoutMilliseconds)},
                       {"name": "remote_refuse", "connection": "remote", "procedure": "public.refuse",
                        "retry_policy": "\(retryPolicy)", "timeout_ms": \(timeoutMilliseconds)}]}
                    """)
        }

        /// The shared row of `remote` (nil while it never left closed).
        func row() throws -> BreakerSnapshot? {
            try BreakerStore.all(on: fixture.database).first { $0.connection == "remote" }
        }

        /// Another worker of the same pool: its own handler and control connection.
        func secondWorker() throws -> RequestHandler {
            let control = ControlDatabase(conninfo: fixture.conninfo)
            let handler = RequestHandler(
                configuration: try ConfigurationStore.load(from: fixture.database), control: control)
            handler.refreshBreakers(from: try control.open())
            return handler
        }
    }

    /// Executes `service` on another worker's `handler`, with the key `authorization`.
    static func execute(_ handler: RequestHandler, _ service: String, authorization: String) -> Reply {
        Reply(
            handler.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/\(service)/execute",
                    headers: ["content-type": "application/json", "authorization": authorization],
                    body: Array("{}".utf8))))
    }

    static func code(_ reply: Reply) -> String? { reply.json["error"]?["code"]?.stringValue }

    /// Infrastructure failures open the breaker once the window holds the minimum number of calls
    /// (each attempt counts, and retries stop when it opens); then calls answer 503 CIRCUIT_OPEN at
    /// once with Retry-After, audited, without a connection reaching the database — even once it is
    /// back — and another worker that hears of the transition refuses too.
    @Test func failuresOpenTheBreakerAndRefusedCallsNeverConnect() throws {
        let remote = try Remote(
            breaker: #"{"window_calls": 4, "minimum_calls": 4, "failure_rate_threshold": 50, "open_ms": 60000}"#,
            retryPolicy: "default")
        let fixture = remote.fixture
        let listener = try PGConnection(conninfo: fixture.conninfo)
        try listener.execute("LISTEN \(BreakerStore.channel)")
        try remote.target.stop()
        defer { try? remote.target.start() }

        // 3 failed attempts (the policy retries class 08): under the minimum of 4 calls.
        let first = fixture.execute("remote_answer")
        try fixture.expectError(first, "DB_CONNECTION_FAILED", status: 503)
        #expect(
            try fixture.value(
                "SELECT attempts FROM spo.service_execution WHERE id = $1", [first.header("X-Execution-ID")]) == "3")
        #expect(try remote.row() == nil, "opened before the minimum number of calls")
        // The next attempt makes 4 calls in the window, all failed: it opens, and the call is not
        // retried further.
        let opening = fixture.execute("remote_answer")
        try fixture.expectError(opening, "DB_CONNECTION_FAILED", status: 503)
        let attempts = try fixture.value(
            "SELECT attempts FROM spo.service_execution WHERE id = $1", [opening.header("X-Execution-ID")])
        #expect(attempts == "1", "retried after the breaker opened")
        let opened = try #require(try remote.row())
        #expect(opened.state == .open)
        #expect(opened.reason?.contains("4 of the last 4 calls failed") == true, "\(String(describing: opened.reason))")
        #expect(opened.remainingOpenMilliseconds > 50_000)
        #expect(
            eventually(within: 5) {
                listener.notifications().contains { $0.channel == BreakerStore.channel && $0.payload == "remote" }
            }, "no NOTIFY on \(BreakerStore.channel)")

        // Refused at once, audited with its own status and code.
        let refused = fixture.execute("remote_answer")
        try fixture.expectError(refused, "CIRCUIT_OPEN", status: 503)
        let retryAfter = try #require(refused.header("Retry-After").flatMap(Int.init))
        #expect(retryAfter > 50 && retryAfter <= 60)
        #expect(refused.json["error"]?["details"]?.arrayValue?.first?["connection"] == .string("remote"))
        let audit = try fixture.rows(
            "SELECT status, error_code, http_status, attempts FROM spo.service_execution WHERE id = $1",
            [refused.header("X-Execution-ID")])
        #expect(audit == [["circuit_open", "CIRCUIT_OPEN", "503", "0"]])

        // The database comes back; the breaker stays open for its duration, and no call reaches it.
        try remote.target.start()
        let connectionsBefore = remote.target.authorizedConnections()
        let started = ContinuousClock.now
        for _ in 0..<20 { #expect(Self.code(fixture.execute("remote_answer")) == "CIRCUIT_OPEN") }
        let perCall = started.duration(to: .now) / 20
        #expect(perCall < .milliseconds(100), "a refused call took \(perCall)")
        #expect(remote.target.authorizedConnections() == connectionsBefore, "a refused call connected")

        // Another worker of the pool, told of the transition, refuses as well.
        let other = try remote.secondWorker()
        #expect(Self.code(Self.execute(other, "remote_answer", authorization: fixture.authorization)) == "CIRCUIT_OPEN")
        #expect(other.breakers.snapshots.first { $0.connection == "remote" }?.state == .open)
        #expect(remote.target.authorizedConnections() == connectionsBefore)
    }

    /// After the open duration a probe tests the database: while it is down the probe fails and
    /// reopens the breaker; once it is back the probe succeeds and closes it.
    @Test func aFailingProbeReopensAndASucceedingProbeCloses() throws {
        let remote = try Remote(
            breaker: #"{"window_calls": 2, "minimum_calls": 2, "open_ms": 300, "half_open_probes": 1}"#)
        let fixture = remote.fixture
        try remote.target.stop()
        defer { try? remote.target.start() }
        for _ in 0..<2 { #expect(Self.code(fixture.execute("remote_answer")) == "DB_CONNECTION_FAILED") }
        let opened = try #require(try remote.row())
        #expect(opened.state == .open)
        #expect(Self.code(fixture.execute("remote_answer")) == "CIRCUIT_OPEN")

        // The open duration passes: the next call is a probe, fails, and opens the breaker again.
        var probe: Reply?
        #expect(
            eventually(within: 5) {
                let reply = fixture.execute("remote_answer")
                probe = reply
                return Self.code(reply) != "CIRCUIT_OPEN"
            })
        #expect(Self.code(try #require(probe)) == "DB_CONNECTION_FAILED")
        let reopened = try #require(try remote.row())
        #expect(reopened.state == .open)
        #expect(reopened.generation == opened.generation + 2, "open → half-open → open")
        #expect(reopened.reason?.hasPrefix("a probe failed") == true)
        #expect(Self.code(fixture.execute("remote_answer")) == "CIRCUIT_OPEN")

        // Back up: the first call after the open duration probes, succeeds and closes it.
        try remote.target.start()
        var succeeded: Reply?
        #expect(
            eventually(within: 5) {
                let reply = fixture.execute("remote_answer")
                succeeded = reply
                return Self.code(reply) != "CIRCUIT_OPEN"
            })
        #expect(succeeded?.status == 200, "\(succeeded?.text ?? "")")
        let closed = try #require(try remote.row())
        #expect(closed.state == .closed)
        #expect(closed.reason == "1 probe(s) succeeded")
        for _ in 0..<5 { #expect(fixture.execute("remote_answer").status == 200) }
    }

    /// Errors the procedure raises are the call's, not the database's: however many, they never
    /// open the breaker, and they count as successes in the window.
    @Test func businessErrorsNeverOpenTheBreaker() throws {
        let remote = try Remote(breaker: #"{"window_calls": 4, "minimum_calls": 2, "failure_rate_threshold": 50}"#)
        let fixture = remote.fixture
        for _ in 0..<20 {
            let reply = fixture.execute("remote_refuse")
            #expect(reply.status == 422)
            #expect(Self.code(reply) == "SP_EXECUTION_FAILED")
        }
        #expect(try remote.row() == nil)
        // The window now holds four successes: one infrastructure failure (25 %) opens nothing,
        // the second (50 %) does.
        try remote.target.stop()
        defer { try? remote.target.start() }
        #expect(Self.code(fixture.execute("remote_answer")) == "DB_CONNECTION_FAILED")
        #expect(try remote.row() == nil)
        #expect(Self.code(fixture.execute("remote_answer")) == "DB_CONNECTION_FAILED")
        #expect(try remote.row()?.state == .open)
        #expect(Self.code(fixture.execute("remote_refuse")) == "CIRCUIT_OPEN")
    }

    /// Half-open probe slots are the pool's: while another worker holds the only one, a call is
    /// refused; a slot whose worker died (its lease ran out) is free again.
    @Test func probeSlotsArePoolWideAndADeadProbeFreesItsSlot() throws {
        let remote = try Remote(
            breaker: #"{"window_calls": 1, "minimum_calls": 1, "open_ms": 200, "half_open_probes": 1}"#)
        let fixture = remote.fixture
        try remote.target.stop()
        #expect(Self.code(fixture.execute("remote_answer")) == "DB_CONNECTION_FAILED")
        try remote.target.start()
        let settings = try #require(fixture.handler.configuration.connections["remote"]?.breaker)
        // A worker that claims the slot once due, then dies: its lease is 1.5 s.
        var claimed: BreakerSnapshot?
        #expect(
            try eventually(within: 5) {
                claimed = try BreakerStore.claimProbe(
                    "remote", id: "dead-worker", leaseMilliseconds: 1500, for: settings, by: "worker 1@gone",
                    on: fixture.database)
                return claimed != nil
            })
        #expect(claimed?.state == .halfOpen)
        #expect(claimed?.probesInFlight == 1)
        let other = try remote.secondWorker()
        let refused = Self.execute(other, "remote_answer", authorization: fixture.authorization)
        #expect(Self.code(refused) == "CIRCUIT_OPEN", "\(refused.text)")
        #expect(refused.json["error"]?["details"]?.arrayValue?.first?["state"] == .string("half_open"))
        // Once the dead worker's lease ends, a call takes the slot, succeeds and closes the breaker.
        var probe: Reply?
        #expect(
            eventually(within: 5) {
                let reply = Self.execute(other, "remote_answer", authorization: fixture.authorization)
                probe = reply
                return Self.code(reply) != "CIRCUIT_OPEN"
            })
        #expect(probe?.status == 200, "\(probe?.text ?? "")")
        #expect(try remote.row()?.state == .closed)
    }

    /// `POST /api/connections/{name}/breaker/reset` closes the breaker (admin keys only), and the
    /// state shows in the connection's document and the health answer.
    @Test func anAdminResetClosesTheBreaker() throws {
        let remote = try Remote(breaker: #"{"window_calls": 1, "minimum_calls": 1, "open_ms": 600000}"#)
        let fixture = remote.fixture
        let admin = try APIKeyStore.create(name: "ops", role: .admin, grants: [], on: fixture.database)
        let executor = try APIKeyStore.create(name: "app", role: .executor, grants: ["*"], on: fixture.database)
        try fixture.reload()
        try remote.target.stop()
        let failed = fixture.execute("remote_answer", headers: ["authorization": "Bearer \(executor)"])
        #expect(Self.code(failed) == "DB_CONNECTION_FAILED")
        try remote.target.start()
        #expect(
            Self.code(fixture.execute("remote_answer", headers: ["authorization": "Bearer \(executor)"]))
                == "CIRCUIT_OPEN")

        func get(_ path: String) -> Reply {
            fixture.send(HTTPRequest(method: "GET", path: path, headers: ["authorization": "Bearer \(admin)"]))
        }
        let document = get("/api/connections/remote")
        #expect(document.json["breaker_state"]?["state"] == .string("open"), "\(document.text)")
        #expect(document.json["breaker"]?["open_ms"] == .number(600000))
        let health = get("/api/health/services").json["items"]?.arrayValue?.first {
            $0["connection"] == .string("remote")
        }
        #expect(health?["breaker_state"]?["state"] == .string("open"))
        #expect(health?["reachable"] == .bool(true))

        let path = "/api/connections/remote/breaker/reset"
        try fixture.expectError(fixture.post(path, "", anonymous: true), "UNAUTHORIZED", status: 401)
        try fixture.expectError(
            fixture.post(path, "", headers: ["authorization": "Bearer \(executor)"]), "FORBIDDEN", status: 403)
        #expect(try remote.row()?.state == .open)
        try fixture.expectError(
            fixture.post("/api/connections/nope/breaker/reset", "", headers: ["authorization": "Bearer \(admin)"]),
            "NOT_FOUND", status: 404)
        let reset = fixture.post(path, "", headers: ["authorization": "Bearer \(admin)"])
        #expect(reset.status == 200, "\(reset.text)")
        #expect(reset.json["state"] == .string("closed"))
        #expect(reset.json["changed_by"] == .string("ops"))
        #expect(try remote.row()?.state == .closed)
        #expect(fixture.execute("remote_answer", headers: ["authorization": "Bearer \(executor)"]).status == 200)
        #expect(get("/api/connections/remote").json["breaker_state"]?["state"] == .string("closed"))
    }

    /// The settings are part of the connection document: written, read back, sent back with PUT
    /// unchanged, exported and imported; bad ones are refused with every problem and change nothing.
    @Test func settingsRoundTripAndAreValidated() throws {
        let fixture = try Fixture()
        let admin = try APIKeyStore.create(name: "ops", role: .admin, grants: [], on: fixture.database)
        try fixture.reload()
        let headers = ["authorization": "Bearer \(admin)"]
        func send(_ method: String, _ path: String, _ body: String = "") -> Reply {
            fixture.send(
                HTTPRequest(
                    method: method, path: path,
                    headers: HTTPHeaders(headers.merging(["content-type": "application/json"]) { $1 }),
                    body: Array(body.utf8)))
        }
        let created = send(
            "POST", "/api/connections",
            #"{"name": "tuned", "conninfo": "host=/nowhere dbname=x", "breaker": {"minimum_calls": 5, "open_ms": 1500}}"#
        )
        #expect(created.status == 201, "\(created.text)")
        let read = send("GET", "/api/connections/tuned")
        #expect(
            read.json["breaker"]
                == .object([
                    "enabled": .bool(true), "failure_rate_threshold": .number(50), "window_calls": .number(20),
                    "minimum_calls": .number(5), "open_ms": .number(1500), "half_open_probes": .number(3),
                ]))
        let replaced = send("PUT", "/api/connections/tuned", read.text)
        #expect(replaced.status == 200, "\(replaced.text)")
        #expect(send("GET", "/api/connections/tuned").json["breaker"] == read.json["breaker"])
        let exported = ConfigurationImporter.export(try ConfigurationStore.load(from: fixture.database))
        let tuned = exported["connections"]?.arrayValue?.first { $0["name"] == .string("tuned") }
        #expect(tuned?["breaker"] == read.json["breaker"])

        let bad = send(
            "PUT", "/api/connections/tuned",
            #"{"conninfo": "host=/nowhere dbname=x", "breaker": {"failure_rate_threshold": 0, "window_calls": 5, "minimum_calls": 6, "colour": "red"}}"#
        )
        let error = try fixture.expectError(bad, "INVALID_PARAMETERS", status: 400)
        let paths = Set((error["details"]?.arrayValue ?? []).compactMap { $0["parameter"]?.stringValue })
        #expect(
            paths == [
                "connection.breaker.failure_rate_threshold", "connection.breaker.minimum_calls",
                "connection.breaker.colour",
            ], "\(bad.text)")
        #expect(send("GET", "/api/connections/tuned").json["breaker"] == read.json["breaker"])
    }
}
