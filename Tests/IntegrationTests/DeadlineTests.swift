import Foundation
import Glibc
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// No wait without a deadline: connecting to a host that never answers, control statements,
/// backoff pauses, the server-side backstop; and the cap on prepared statements per connection.
@Suite struct DeadlineTests {
    /// A service on a connection to a TCP listener that completes the handshake and never says a
    /// word: TIMEOUT within the service's timeout and a margin, audited as a timeout attempt.
    @Test func aSilentTargetTimesOutWithinTheServiceTimeout() throws {
        let fixture = try Fixture()
        let listener = try SilentListener()
        defer { listener.close() }
        try fixture.database.execute(
            "INSERT INTO spo.connection (name, conninfo) VALUES ('silent', $1)",
            ["host=127.0.0.1 port=\(listener.port) dbname=nothing user=nobody"])
        try fixture.database.execute(
            "UPDATE spo.service SET connection = 'silent', timeout_ms = 1000 WHERE name = 'customer_get'")
        try fixture.reload()

        let started = ContinuousClock.now
        let call = BackgroundCall { fixture.execute("customer_get", #"{"p_id": 1}"#) }
        let finished = call.wait(seconds: 6)
        // Old code blocks in PQconnectdb until the peer goes away: let it go, then fail.
        listener.close()
        let reply = try #require(finished ?? call.wait(seconds: 30), "the call did not return within 6 s")
        let elapsed = started.duration(to: .now)
        #expect(finished != nil, "the call returned only once the listener closed")
        try fixture.expectError(reply, "TIMEOUT", status: 504)
        #expect(elapsed < .seconds(3), "took \(elapsed)")
        let outcomes = try fixture.rows(
            "SELECT outcome FROM spo.service_log WHERE execution_id = $1 ORDER BY attempt",
            [reply.header("X-Execution-ID")])
        #expect(outcomes == [["timeout"]])
        // The time went into connecting, and the audit says so.
        let connectTime = try fixture.value(
            "SELECT attempt_log->0->>'connect_ms' FROM spo.service_execution WHERE id = $1",
            [reply.header("X-Execution-ID")])
        #expect((connectTime.flatMap(Double.init) ?? 0) >= 900, "connect_ms \(String(describing: connectTime))")
        // Other services, on other connections, are untouched.
        #expect(fixture.execute("slow", #"{"p_seconds": 0}"#).status == 200)
    }

    /// The control database's timeout bounds connecting and each statement.
    @Test func controlStatementsAndConnectingHaveTheControlTimeout() throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let unreachable = ControlDatabase(
            conninfo: "host=127.0.0.1 port=\(listener.port) dbname=spo", timeout: .milliseconds(500))
        var started = ContinuousClock.now
        let connecting = BackgroundCall { () -> PGError? in
            do throws(PGError) {
                _ = try unreachable.withConnection { (connection: PGConnection) throws(PGError) in
                    try connection.execute("SELECT 1")
                }
                return nil
            } catch {
                return error
            }
        }
        let failure = connecting.wait(seconds: 5)
        #expect(failure??.kind == .timeout, "\(String(describing: failure))")
        #expect(started.duration(to: .now) < .seconds(2))
        if failure != nil {
            // Right after, calls fail at once instead of waiting for the silent host again.
            started = .now
            #expect(throws: PGError.self) { try unreachable.open() }
            #expect(started.duration(to: .now) < .milliseconds(200))
        }
        listener.close()
        _ = connecting.wait(seconds: 30)

        let control = ControlDatabase(conninfo: try TestCluster.database(), timeout: .milliseconds(500))
        started = .now
        #expect(throws: PGError.self) {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute("SELECT pg_sleep(5)")
            }
        }
        #expect(started.duration(to: .now) < .seconds(2))
        // The statement was cancelled, not left running: the connection serves the next one.
        let one = try control.withConnection { (connection: PGConnection) throws(PGError) in
            try connection.execute("SELECT 1").value(0, 0)
        }
        #expect(one == "1")
    }

    /// A pause longer than what is left of the timeout is not taken: the call ends with the last
    /// failure at once instead of sleeping past its deadline.
    @Test func aBackoffLongerThanTheRemainingTimeIsNotSlept() throws {
        let fixture = try Fixture()
        try fixture.database.execute(
            """
            INSERT INTO spo.service_retry_policy (name, initial_backoff_ms, max_backoff_ms, jitter)
            VALUES ('patient', 5000, 5000, 0)
            """)
        try fixture.database.execute(
            "UPDATE spo.service SET retry_policy = 'patient', timeout_ms = 1000 WHERE name = 'flaky'")
        try fixture.reload()
        let started = ContinuousClock.now
        let body = JSONValue.object(["p_key": .string(freshKey()), "p_failures": .number(2)]).serialized()
        let reply = fixture.execute("flaky", body)
        #expect(started.duration(to: .now) < .seconds(1))
        try fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 502)
        #expect(reply.header("X-Execution-ID") != nil)
        #expect(
            try fixture.value(
                "SELECT attempts::text FROM spo.service_execution WHERE id = $1", [reply.header("X-Execution-ID")])
                == "1")
    }

    /// A target connection carries the server-side `statement_timeout` backstop: the longest
    /// timeout of the services using it, plus a second.
    @Test func targetConnectionsCarryTheServerSideBackstop() throws {
        let fixture = try Fixture()
        try fixture.database.execute(
            """
            CREATE FUNCTION demo.current_statement_timeout() RETURNS text LANGUAGE sql
            AS $$ SELECT current_setting('statement_timeout') $$
            """)
        // The conninfo's own setting wins; empty `options` (for a pooler) means none is sent.
        for (name, extra) in [
            ("backstop", ""), ("own", " options='-c statement_timeout=1234'"), ("none", " options=''"),
        ] {
            try fixture.database.execute(
                "INSERT INTO spo.connection (name, conninfo) VALUES ($1, $2)", [name, fixture.conninfo + extra])
        }
        _ = try ConfigurationImporter(control: fixture.database).importDocument(
            try JSONValue.parse(
                #"""
                [{"name": "show_timeout", "connection": "backstop", "procedure": "demo.current_statement_timeout",
                  "timeout_ms": 1500},
                 {"name": "show_timeout_too", "connection": "backstop", "procedure": "demo.current_statement_timeout",
                  "timeout_ms": 700},
                 {"name": "show_own_timeout", "connection": "own", "procedure": "demo.current_statement_timeout"},
                 {"name": "show_no_timeout", "connection": "none", "procedure": "demo.current_statement_timeout"}]
                """#))
        try fixture.reload()
        let reply = fixture.execute("show_timeout")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data == .string("2500ms"))
        #expect(fixture.execute("show_own_timeout").data == .string("1234ms"))
        #expect(fixture.execute("show_no_timeout").data == .string("0"))
    }

    /// The server closes the worker's idle connections (as when PostgreSQL restarts): their sockets,
    /// which the worker polls between requests, turn readable; checking them drops the dead ones, so
    /// the next call runs on a new connection at the first attempt instead of failing on the old.
    @Test func idleConnectionsClosedByTheServerAreReplacedBeforeUse() throws {
        let fixture = try Fixture()
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
        var descriptors = fixture.handler.idleConnectionSockets.map {
            pollfd(fd: $0, events: Int16(POLLIN), revents: 0)
        }
        #expect(descriptors.count == 1)
        #expect(poll(&descriptors, nfds_t(descriptors.count), 0) == 0, "an idle connection has nothing to read")
        _ = try fixture.rows(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """)
        // What the worker does between requests: wait for its sockets, check those that woke it.
        let dropped = eventually(within: 5) {
            if poll(&descriptors, nfds_t(descriptors.count), 100) > 0 { fixture.handler.checkIdleConnections() }
            return fixture.handler.idleConnectionSockets.isEmpty
        }
        #expect(dropped, "the closed connection was not noticed")

        let reply = fixture.execute("customer_get", #"{"p_id": 2}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["attempts"] == .number(1))
        // The control connection died too: the audit reconnected and wrote the row.
        #expect(
            try fixture.value(
                "SELECT attempt_log->0->>'outcome' FROM spo.service_execution WHERE id = $1",
                [reply.header("X-Execution-ID")]) == "succeeded")
    }

    /// A client choosing which optional parameters to send makes the worker prepare one statement
    /// per subset: at most the cap stay prepared on the connection, and every call still works.
    @Test func preparedStatementsPerConnectionAreCapped() throws {
        let fixture = try Fixture()
        let names = (1...8).map { "p\($0)" }
        try fixture.database.execute(
            """
            CREATE FUNCTION demo.prepared_count(\(names.map { "\($0) integer DEFAULT 0" }.joined(separator: ", ")))
            RETURNS text LANGUAGE sql
            AS $$ SELECT (SELECT count(*) FROM pg_prepared_statements) || ' ' || (\(names.joined(separator: " + "))) $$
            """)
        _ = try ConfigurationImporter(control: fixture.database).importDocument(
            try JSONValue.parse(
                #"{"name": "prepared_count", "connection": "demo", "procedure": "demo.prepared_count", "parameters": "discover"}"#
            ))
        try fixture.reload()
        let limit = PGConnectOptions.defaultPreparedStatementLimit
        var most = 0
        // Every subset of the eight parameters (256 > the cap), then the first ones again: those
        // were deallocated meanwhile and are prepared anew.
        for subset in Array(0..<256) + Array(1..<20) {
            let supplied = names.indices.filter { subset & (1 << $0) != 0 }
            let body = JSONValue.object(supplied.map { JSONValue.Member(names[$0], .number($0 + 1)) }).serialized()
            let reply = fixture.execute("prepared_count", body)
            try #require(reply.status == 200, "\(reply.text)")
            let answer = try #require(reply.data?.stringValue).split(separator: " ")
            #expect(answer.last.map(String.init) == String(supplied.map { $0 + 1 }.reduce(0, +)))
            most = max(most, Int(answer.first ?? "") ?? .max)
        }
        #expect(most <= limit, "\(most) statements prepared on one connection")
        #expect(most >= limit - 1, "the cap was never reached: \(most)")
    }
}

/// A TCP listener on 127.0.0.1 that lets connections complete (the kernel's backlog) and never
/// answers them; closing it resets them.
final class SilentListener: @unchecked Sendable {
    let port: Int
    private var descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 64) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard descriptor >= 0, bound else {
            _ = Glibc.close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}

/// Runs `body` on a thread of its own, for calls that may block longer than a test should wait.
final class BackgroundCall<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: T?
    private let body: () -> T

    init(_ body: @escaping () -> T) {
        self.body = body
        Thread { [self] in
            result = self.body()
            done.signal()
        }.start()
    }

    /// The result, or nil when `body` did not finish within `seconds`.
    func wait(seconds: Double) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()  // later waits return at once
        return result
    }
}
