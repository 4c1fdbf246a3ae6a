import Foundation
import Glibc
import SPOJSON
import SPOPostgres
import Synchronization
import Testing

@testable import SPOCore
@testable import SPOServer

/// The pool's audit writer: a worker's answer waits for the commit of the transaction holding
/// its row; rows of workers calling at once share transactions; and a writer that is missing,
/// dies or cannot reach the control database costs no row.
@Suite final class AuditWriterTests {
    private let directory = NSTemporaryDirectory() + "spo-writer-" + UUID().uuidString

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    private var socketPath: String { AuditWriter.socketPath(runDirectory: directory) }

    /// A writer serving on a thread of its own until `stop` is called, which hangs up like a death.
    private final class RunningWriter: @unchecked Sendable {
        let writer: AuditWriter
        private let stopped = Mutex(false)
        private let done = DispatchSemaphore(value: 0)

        init(conninfo: String, socketPath: String) throws {
            writer = try AuditWriter(controlConninfo: conninfo, socketPath: socketPath)
            Thread { [self] in
                while !stopped.withLock({ $0 }) { _ = writer.serveOnce(waitingMilliseconds: 20) }
                writer.close()
                done.signal()
            }.start()
        }

        /// Stops the thread; returns the writer's counts of rows and transactions.
        func stop() -> (rows: Int, transactions: Int) {
            stopped.withLock { $0 = true }
            done.wait()
            return (writer.committedRows, writer.transactions)
        }
    }

    @Test func theRowIsCommittedByTheWriterBeforeTheAnswer() throws {
        let fixture = try Fixture()
        let running = try RunningWriter(conninfo: fixture.conninfo, socketPath: socketPath)
        fixture.handler.auditWriter = AuditWriterClient(path: socketPath)
        var ids: [String] = []
        for id in 1...3 {
            let reply = fixture.execute("customer_get", #"{"p_id": \#(id)}"#)
            #expect(reply.status == 200, "\(reply.text)")
            let executionID = try #require(reply.json["execution_id"]?.stringValue)
            // Committed when the handler answers: visible at once to another connection.
            #expect(
                try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1", [executionID])
                    == "succeeded")
            ids.append(executionID)
        }
        let counts = running.stop()
        // Written by the writer, not by the worker's fallback.
        #expect(counts.rows == 3)
        let row = try fixture.rows(
            "SELECT service_name, user_name, correlation_id IS NOT NULL, attempts::text, attempt_log->0->>'outcome', "
                + "finished_at >= started_at FROM spo.service_execution WHERE id = $1", [ids[0]])
        #expect(row == [["customer_get", Fixture.keyName, "t", "1", "succeeded", "t"]])
    }

    @Test func rowsOfWorkersCallingAtOnceShareATransaction() throws {
        let fixture = try Fixture()
        let running = try RunningWriter(conninfo: fixture.conninfo, socketPath: socketPath)
        let path = socketPath
        let crowd = try Crowd(size: 8, conninfo: fixture.conninfo) { $0.auditWriter = AuditWriterClient(path: path) }
        let authorization = fixture.authorization
        var grouped = false
        var answered = 0
        // One burst usually groups; a few more give a slow machine its chance.
        for _ in 0..<20 where !grouped {
            let replies = try crowd.send { index in
                HTTPRequest(
                    method: "POST", path: "/api/services/customer_get/execute",
                    headers: ["content-type": "application/json", "authorization": authorization],
                    body: Array(#"{"p_id": \#(index + 1)}"#.utf8))
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            let ids = replies.compactMap { $0.json["execution_id"]?.stringValue }
            answered += ids.count
            let literal = "{" + ids.joined(separator: ",") + "}"
            #expect(
                try fixture.value("SELECT count(*) FROM spo.service_execution WHERE id = ANY($1::uuid[])", [literal])
                    == "8")
            let transactions = try fixture.value(
                "SELECT count(DISTINCT xmin::text) FROM spo.service_execution WHERE id = ANY($1::uuid[])", [literal])
            grouped = Int(transactions ?? "8")! < 8
        }
        let counts = running.stop()
        #expect(grouped, "eight workers calling at once never shared a transaction")
        #expect(counts.rows == answered)
        #expect(counts.transactions < counts.rows)
    }

    @Test func aMissingOrDeadWriterMakesTheWorkerWriteItself() throws {
        let fixture = try Fixture()
        // Nobody listens: the worker writes its row as it always did.
        fixture.handler.auditWriter = AuditWriterClient(path: socketPath)
        let alone = fixture.execute("customer_get", #"{"p_id": 7}"#)
        #expect(alone.status == 200, "\(alone.text)")
        let aloneID = try #require(alone.json["execution_id"]?.stringValue)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution WHERE id = $1", [aloneID]) == "1")

        // A writer that served, then died: the next row still lands, written by the worker.
        let running = try RunningWriter(conninfo: fixture.conninfo, socketPath: socketPath)
        let client = AuditWriterClient(path: socketPath)
        fixture.handler.auditWriter = client
        let before = fixture.execute("customer_get", #"{"p_id": 8}"#)
        #expect(before.status == 200)
        #expect(running.stop().rows == 1)
        let after = fixture.execute("customer_get", #"{"p_id": 9}"#)
        #expect(after.status == 200, "\(after.text)")
        let afterID = try #require(after.json["execution_id"]?.stringValue)
        #expect(try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1", [afterID]) == "succeeded")
        #expect(!client.isAvailable, "the worker pauses before trying a dead writer again")
    }

    @Test func aWriterThatNeverAnswersIsGivenUpOnAtTheDeadline() throws {
        // Listening, never accepting: the row is sent into the socket's backlog and never answered.
        let silent = try ListeningSocket(.unix(path: socketPath), backlog: 4)
        defer { silent.close() }
        let client = AuditWriterClient(path: socketPath)
        let start = ContinuousClock.now
        let values = [String?](repeating: "x", count: AuditBatch.valueCount)
        #expect(!client.write(AuditWriterFrame.encode(values), deadline: start + .milliseconds(300)))
        let waited = start.duration(to: .now)
        #expect(waited >= .milliseconds(300), "it gave up before its deadline")
        #expect(waited < .seconds(5), "it waited \(waited), far past its deadline")
        #expect(!client.isAvailable, "the worker writes itself for a while before trying again")
    }

    @Test func aWriterWithoutTheControlDatabaseLeavesTheRowToTheSpool() throws {
        let fixture = try Fixture()
        let unreachable = "host=/nonexistent/spo-writer-test dbname=spo connect_timeout=2"
        let running = try RunningWriter(conninfo: unreachable, socketPath: socketPath)
        let handler = RequestHandler(
            configuration: try ConfigurationStore.load(from: fixture.database),
            control: ControlDatabase(conninfo: unreachable))
        handler.auditWriter = AuditWriterClient(path: socketPath)
        let spool = try #require(AuditSpool(path: directory + "/w0.sock.spool"))
        handler.spool = spool
        let reply = Reply(
            handler.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/customer_get/execute",
                    headers: ["content-type": "application/json", "authorization": fixture.authorization],
                    body: Array(#"{"p_id": 11}"#.utf8))))
        #expect(reply.status == 200, "\(reply.text)")
        let executionID = try #require(reply.json["execution_id"]?.stringValue)
        #expect(running.stop().rows == 0)
        #expect(spool.hasPending)
        #expect(try spool.replay(on: fixture.database) == 1)
        #expect(
            try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1", [executionID]) == "succeeded")
    }

    @Test func arrayLiteralsKeepQuotesBackslashesAndNulls() throws {
        let fixture = try Fixture()
        let elements: [String?] = [#"a "quoted" \ value"#, nil, "", "{}", "NULL", "é,}"]
        let literal = AuditBatch.arrayLiteral(elements)
        let result = try fixture.database.execute(
            "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n", [literal])
        #expect((0..<result.rowCount).map { result.value($0, 0) } == elements)
    }
}
