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

        init(
            conninfo: String, socketPath: String, commitDelay: Duration = AuditWriter.commitDelayFromEnvironment(),
            activeWindow: Duration = AuditWriter.defaultActiveWindow
        ) throws {
            writer = try AuditWriter(
                controlConninfo: conninfo, socketPath: socketPath, commitDelay: commitDelay, activeWindow: activeWindow)
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

    /// A succeeded execution row of `customer_get`, as the request path hands it over.
    private func executionRecord(_ fixture: Fixture) throws -> AuditRecord {
        let service = try #require(fixture.handler.configuration.enabledService("customer_get"))
        return AuditRecord(
            execution: .init(
                id: RandomID.uuid(), serviceID: service.id, serviceName: service.name,
                parameters: .object(["p_id": .number(1)]), status: .succeeded, httpStatus: 200, errorCode: nil,
                durationMilliseconds: 1, user: Fixture.keyName, correlationID: RandomID.uuid(), idempotencyKey: nil,
                reprocessOf: nil, attempts: []),
            failure: nil)
    }

    /// Waits up to `timeout` for the writer's answer to arrive, without asking it to hurry.
    private func arrival(
        _ client: AuditWriterClient, _ ticket: AuditWriterClient.Ticket, timeout: Duration = .seconds(10)
    ) -> AuditWriterClient.Settlement? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let settlement = client.peek(ticket) { return settlement }
            usleep(2_000)
        }
        return nil
    }

    @Test func aGroupWaitsForEveryActiveWorkersRowUntilOneOfThemWaits() throws {
        let fixture = try Fixture()
        // A delay far longer than the test: only a full group or a waiting worker ends a hold.
        let running = try RunningWriter(
            conninfo: fixture.conninfo, socketPath: socketPath, commitDelay: .seconds(30), activeWindow: .seconds(60))
        let audit = AuditLog()
        let (first, second) = (AuditWriterClient(path: socketPath), AuditWriterClient(path: socketPath))
        // Each worker waits for its first row: written at once, and both workers are active now.
        for client in [first, second] {
            let ticket = try #require(audit.offer(try executionRecord(fixture), to: client))
            #expect(client.settlement(of: ticket, deadline: .now + .seconds(10), hurry: true) == .committed)
        }
        // The first worker's next row waits for the second's: the group is held.
        let held = try #require(audit.offer(try executionRecord(fixture), to: first))
        #expect(arrival(first, held, timeout: .milliseconds(300)) == nil, "the group was written before it was full")
        let joining = try #require(audit.offer(try executionRecord(fixture), to: second))
        #expect(arrival(first, held) == .committed)
        #expect(second.settlement(of: joining, deadline: .now + .seconds(10), hurry: false) == .committed)
        #expect(first.settlement(of: held, deadline: .now + .seconds(10), hurry: false) == .committed)
        // A worker with nothing else to do asks for its group at once (the second sends nothing).
        let alone = try #require(audit.offer(try executionRecord(fixture), to: first))
        let asked = ContinuousClock.now
        #expect(first.settlement(of: alone, deadline: .now + .seconds(10), hurry: true) == .committed)
        #expect(asked.duration(to: .now) < .seconds(10))
        let counts = running.stop()
        #expect(counts.rows == 5)
        #expect(counts.transactions == 4, "the two rows sent together were not one transaction")
    }

    /// A handler holding its answers for their commits, with a journal of two slots.
    private func holdingHandler(_ fixture: Fixture) throws -> (RequestHandler, [InFlightJournal]) {
        let handler = fixture.handler
        handler.auditWriter = AuditWriterClient(path: socketPath)
        handler.defersAnswers = true
        let slots = try InFlightJournal.slotPaths(directory + "/w0.sock.inflight").map {
            try #require(InFlightJournal(path: $0))
        }
        handler.journal = slots[0]
        handler.spareJournals = [slots[1]]
        return (handler, slots)
    }

    @Test func aHeldAnswerIsGivenOnceItsRowIsCommittedAndItsJournalSlotIsKeptUntilThen() throws {
        let fixture = try Fixture()
        let running = try RunningWriter(conninfo: fixture.conninfo, socketPath: socketPath)
        let (handler, slots) = try holdingHandler(fixture)
        let reply = fixture.execute("customer_get", #"{"p_id": 3}"#)
        let held = try #require(handler.takeDeferredAnswer())
        #expect(handler.takeDeferredAnswer() == nil, "an answer is held once")
        let executionID = try #require(reply.json["execution_id"]?.stringValue)
        // Until it is settled, its slot still names it (a death now is audited `interrupted`) and
        // the next execution is noted in the other slot.
        let noted = try String(contentsOfFile: slots[0].path, encoding: .utf8).prefix { $0 != "\n" }
        #expect(noted.contains(executionID))
        #expect(handler.journal === slots[1])
        let answer = handler.settle(held, idle: true)
        #expect(answer.status == 200)
        #expect(answer.body == Array(reply.text.utf8))
        #expect(
            try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1", [executionID]) == "succeeded")
        #expect(try String(contentsOfFile: slots[0].path, encoding: .utf8).first == "\n", "the slot was not cleared")
        let free = ([handler.journal].compactMap { $0 } + handler.spareJournals).map(ObjectIdentifier.init)
        #expect(Set(free) == Set(slots.map(ObjectIdentifier.init)), "a slot was lost")
        #expect(running.stop().rows == 1)
    }

    @Test func aHeldAnswerWhoseWriterDiedIsWrittenByTheWorker() throws {
        let fixture = try Fixture()
        // Listening, never answering: the row is sent and never confirmed.
        let silent = try ListeningSocket(.unix(path: socketPath), backlog: 4)
        let (handler, _) = try holdingHandler(fixture)
        let reply = fixture.execute("customer_get", #"{"p_id": 4}"#)
        let held = try #require(handler.takeDeferredAnswer())
        silent.close()
        let answer = handler.settle(held, idle: true)
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        let executionID = try #require(reply.json["execution_id"]?.stringValue)
        #expect(
            try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1", [executionID]) == "succeeded")
    }

    @Test func aHeldAnswerIsGivenDuringTheNextRequestsLongCall() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: "CREATE FUNCTION public.slow(p_seconds float8) RETURNS text LANGUAGE sql AS $$ "
                + "SELECT 'slept' FROM pg_sleep(p_seconds) $$;",
            services: #"[{"name": "slow", "connection": "demo", "procedure": "public.slow", "#
                + #""parameters": "discover", "timeout_ms": 10000}]"#)
        try fixture.reload()
        let running = try RunningWriter(conninfo: fixture.conninfo, socketPath: socketPath)
        let (handler, _) = try holdingHandler(fixture)
        #expect(fixture.execute("customer_get", #"{"p_id": 5}"#).status == 200)
        let held = try #require(handler.takeDeferredAnswer())
        // What the worker binds around its next request: the held answer, written once confirmed.
        var givenAt: ContinuousClock.Instant?
        let work = PGWaitingWork(everyMilliseconds: 5) {
            guard handler.settledWithoutWaiting(held) != nil else { return false }
            givenAt = .now
            return true
        }
        let slow = PGWaitingWork.$current.withValue(work) { fixture.execute("slow", #"{"p_seconds": 1.5}"#) }
        let returned = ContinuousClock.now
        #expect(slow.status == 200, "\(slow.text)")
        let given = try #require(givenAt, "the held answer waited for the whole call")
        #expect(given.duration(to: returned) > .milliseconds(500), "given only at the end of the call")
        _ = handler.settle(try #require(handler.takeDeferredAnswer()), idle: true)
        #expect(running.stop().rows == 2)
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
