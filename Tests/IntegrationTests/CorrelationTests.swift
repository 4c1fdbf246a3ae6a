import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// The request's correlation id reaches the database session of its call: the routine reads it
/// with `current_setting('spo.correlation_id')`, and pg_stat_activity shows it as
/// `application_name` (`spo:<id>`) while the call runs.
@Suite struct CorrelationTests {
    static let routines = """
        CREATE FUNCTION demo.my_correlation() RETURNS text LANGUAGE sql VOLATILE
            AS $$ SELECT current_setting('spo.correlation_id', true) || ' ' || current_setting('application_name') $$;
        CREATE TABLE demo.commits (id bigint GENERATED ALWAYS AS IDENTITY, seen text);
        CREATE PROCEDURE demo.commit_twice(INOUT p_seen text DEFAULT NULL) LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO demo.commits (seen) VALUES (current_setting('spo.correlation_id', true));
            COMMIT;
            INSERT INTO demo.commits (seen) VALUES (current_setting('application_name'));
            COMMIT;
            p_seen := current_setting('spo.correlation_id', true);
        END $$;
        CREATE FUNCTION demo.chatty() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN
            RAISE NOTICE 'hello from %', current_setting('spo.correlation_id', true) USING HINT = 'a hint';
            RAISE WARNING 'careful';
            RETURN 1;
        END $$;
        """

    private func fixture() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.register(
            sql: Self.routines,
            services: #"""
                [{"name": "my_correlation", "connection": "demo", "procedure": "demo.my_correlation",
                  "parameters": "discover"},
                 {"name": "commit_twice", "connection": "demo", "procedure": "demo.commit_twice",
                  "parameters": "discover"}]
                """#)
        return fixture
    }

    @Test func theRoutineSeesTheRequestsCorrelationID() throws {
        let fixture = try fixture()
        for id in ["corr-1", "corr-2"] {
            let reply = fixture.execute("my_correlation", headers: ["X-Correlation-ID": id])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.data == .string("\(id) spo:\(id)"), "\(reply.text)")
        }
        // A generated id reaches the session too.
        let generated = fixture.execute("my_correlation")
        let id = try #require(generated.header("X-Correlation-ID"))
        #expect(generated.data == .string("\(id) spo:\(id)"))
    }

    @Test func withoutAnIDOfItsOwnARequestGetsNginxsRequestIDShapedAsAUUID() throws {
        let fixture = try fixture()
        let requestID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        let shaped = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        for given in [nil, "not a token!"] {
            var headers = [HTTPHeaders.nginxRequestID: requestID]
            headers["X-Correlation-ID"] = given
            let reply = fixture.execute("my_correlation", headers: headers)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.header("X-Correlation-ID") == shaped)
            #expect(reply.data == .string("\(shaped) spo:\(shaped)"), "\(reply.text)")
        }
        // A client's own id wins; a request id that is not 32 hex digits is not used.
        let own = fixture.execute(
            "my_correlation", headers: ["X-Correlation-ID": "mine", HTTPHeaders.nginxRequestID: requestID])
        #expect(own.header("X-Correlation-ID") == "mine")
        let odd = fixture.execute("my_correlation", headers: [HTTPHeaders.nginxRequestID: "0f1e2d3c"])
        let made = try #require(odd.header("X-Correlation-ID"))
        #expect(made != "0f1e2d3c" && UUID(uuidString: made) != nil)
    }

    @Test func aProcedureThatCommitsRunsAndSeesIt() throws {
        let fixture = try fixture()
        let reply = fixture.execute("commit_twice", headers: ["X-Correlation-ID": "commit-7"])
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.data?["p_seen"] == .string("commit-7"), "\(reply.text)")
        #expect(try fixture.rows("SELECT seen FROM demo.commits ORDER BY id") == [["commit-7"], ["spo:commit-7"]])
    }

    @Test func pgStatActivityShowsTheCorrelationIDDuringTheCall() throws {
        let fixture = try fixture()
        let id = "dba-" + UUID().uuidString.lowercased()
        let call = BackgroundCall {
            fixture.execute("slow", #"{"p_seconds": 0.8}"#, headers: ["X-Correlation-ID": id])
        }
        let seen = try eventually(within: 5) {
            try fixture.value(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'"
                    + " AND query LIKE '%demo%slow%'", ["spo:" + id]) == "1"
        }
        #expect(seen, "no active backend with application_name spo:\(id)")
        let reply = try #require(call.wait(seconds: 10))
        #expect(reply.status == 200, "\(reply.text)")
    }

    @Test func theAuditRowAndErrorsCarryTheCorrelationID() throws {
        let fixture = try fixture()
        let reply = fixture.execute("customer_get", #"{"p_id": 0}"#, headers: ["X-Correlation-ID": "audit-3"])
        try fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        #expect(
            try fixture.value(
                "SELECT correlation_id FROM spo.service_execution WHERE id = $1", [reply.header("X-Execution-ID")])
                == "audit-3")
        let ok = fixture.execute("customer_get", #"{"p_id": 1}"#, headers: ["X-Correlation-ID": "audit-4"])
        #expect(
            try fixture.value(
                "SELECT correlation_id FROM spo.service_execution WHERE id = $1", [ok.header("X-Execution-ID")])
                == "audit-4")
    }

    @Test func aNewConnectionIsTaggedAgain() throws {
        let fixture = try fixture()
        #expect(fixture.execute("my_correlation", headers: ["X-Correlation-ID": "first"]).status == 200)
        let kept = fixture.handler.idleConnectionSockets.count
        // The kept target connection goes away (a DBA terminates it); the worker notices while
        // idle, and the next call reconnects.
        let terminated = try fixture.value(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'spo:first'")
        #expect(terminated == "1")
        #expect(
            eventually(within: 5) {
                fixture.handler.checkIdleConnections()
                return fixture.handler.idleConnectionSockets.count < kept
            })
        let reply = fixture.execute("my_correlation", headers: ["X-Correlation-ID": "second"])
        #expect(reply.data == .string("second spo:second"), "\(reply.text)")
    }

    @Test func aTimeoutStillCancelsTheStatementInPipelineMode() throws {
        let fixture = try fixture()
        try fixture.database.execute("UPDATE spo.service SET timeout_ms = 500 WHERE name = 'slow'")
        try fixture.reload()
        let id = "late-" + UUID().uuidString.lowercased()
        let started = ContinuousClock.now
        let reply = fixture.execute("slow", #"{"p_seconds": 20}"#, headers: ["X-Correlation-ID": id])
        try fixture.expectError(reply, "TIMEOUT", status: 504)
        #expect(started.duration(to: .now) < .seconds(5))
        // Cancelled in the database, not abandoned: no backend still sleeps for this request.
        #expect(
            try eventually(within: 5) {
                try fixture.value(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
                    ["spo:" + id]) == "0"
            })
        // The connection is usable again at once.
        #expect(
            fixture.execute("my_correlation", headers: ["X-Correlation-ID": "after"]).data == .string("after spo:after")
        )
    }

    @Test func noticesReachTheConnectionsHandler() throws {
        let fixture = try fixture()
        let notices = NoticeBox()
        var options = PGConnectOptions()
        options.noticeHandler = { notices.append($0) }
        let connection = try PGConnection(conninfo: fixture.conninfo, options: options)
        try connection.execute("SELECT demo.chatty()")
        let received = notices.all
        #expect(received.count == 2, "\(received)")
        #expect(received.first?.severity == .notice)
        #expect(received.first?.message == "hello from <NULL>", "a connection of no request has no correlation id")
        #expect(received.first?.hint == "a hint")
        #expect(received.first?.sqlstate == "00000")
        #expect(received.last?.severity == .warning)
        #expect(received.last?.sqlstate == "01000")
    }
}

/// Notices collected from a connection's handler.
final class NoticeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var notices: [PGNotice] = []

    func append(_ notice: PGNotice) { lock.withLock { notices.append(notice) } }
    var all: [PGNotice] { lock.withLock { notices } }
}
