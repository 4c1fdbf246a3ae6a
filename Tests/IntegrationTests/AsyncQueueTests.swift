import Foundation
import SPOJSON
import SPOPostgres
import Synchronization
import Testing

@testable import SPOCore
@testable import SPOServer

/// `Prefer: respond-async`, the job queue and its consumers, against a real PostgreSQL: claiming
/// under concurrency, lease expiry, and recovery from what the target says of a recorded
/// transaction.
@Suite struct AsyncQueueTests {
    static let async = ["Prefer": "respond-async"]

    /// Queues `note_add` for `note` and returns the execution id.
    func enqueueNote(_ fixture: Fixture, _ note: String) throws -> String {
        let reply = fixture.execute(
            "note_add", #"{"p_customer_id": 1, "p_note": "\#(note)"}"#, headers: AsyncQueueTests.async)
        #expect(reply.status == 202, "\(reply.text)")
        return try #require(reply.json["execution_id"]?.stringValue)
    }

    func notes(_ fixture: Fixture, _ note: String) throws -> Int {
        Int(try fixture.value("SELECT count(*) FROM demo.order_note WHERE note = $1", [note]) ?? "") ?? -1
    }

    func status(_ fixture: Fixture, _ id: String) throws -> String? {
        try fixture.value("SELECT status FROM spo.service_execution WHERE id = $1::uuid", [id])
    }

    /// A job claimed by a consumer that then vanished: `locked_by` is `ghost` and the lease has expired.
    func abandon(_ fixture: Fixture) throws -> JobQueue.Job {
        let job = try #require(try JobQueue.claim(by: "ghost", on: fixture.database))
        try expireLease(fixture, job.lease.executionID)
        return job
    }

    func expireLease(_ fixture: Fixture, _ id: String) throws {
        try fixture.database.execute(
            "UPDATE spo.execution_job SET locked_until = now() - interval '1 second' WHERE execution_id = $1::uuid",
            [id])
    }

    /// The ghost's target transaction: the call run and its id recorded, as a consumer does
    /// before COMMIT; the caller decides how it ends.
    func ghostTransaction(_ fixture: Fixture, _ job: JobQueue.Job, note: String) throws -> PGConnection {
        let target = try PGConnection(conninfo: fixture.conninfo)
        try target.execute("BEGIN")
        try target.execute("SELECT demo.add_note(1, $1)", [note])
        let xid = try #require(try target.execute("SELECT pg_current_xact_id()::text").value(0, 0))
        #expect(try JobQueue.recordCommit(job.lease, xid: xid, data: "null", on: fixture.database))
        return target
    }

    @Test func respondAsyncAnswers202AndAConsumerRunsTheCall() throws {
        let fixture = try Fixture()
        let reply = fixture.execute("customer_get", #"{"p_id": 42}"#, headers: AsyncQueueTests.async)
        #expect(reply.status == 202, "\(reply.text)")
        let id = try #require(reply.json["execution_id"]?.stringValue)
        #expect(reply.header("Location") == "/api/executions/\(id)")
        #expect(reply.header("Preference-Applied") == "respond-async")
        #expect(reply.json["status"] == .string("queued"))
        #expect(try status(fixture, id) == "queued")
        #expect(
            try fixture.value("SELECT state FROM spo.execution_job WHERE execution_id = $1::uuid", [id]) == "queued")

        let consumer = Consumer(controlConninfo: fixture.conninfo, name: "test")
        #expect(consumer.drain() >= 1)
        #expect(try status(fixture, id) == "succeeded")
        let read = fixture.send(HTTPRequest(method: "GET", path: "/api/executions/\(id)"))
        #expect(read.status == 200, "\(read.text)")
        #expect(read.json["status"] == .string("succeeded"))
        let sync = fixture.execute("customer_get", #"{"p_id": 42}"#)
        #expect(read.json["data"] == sync.json["data"])
        #expect(read.json["data"]?.arrayValue?.count == 1)
    }

    @Test func invalidInputIsRefusedAtOnceAndQueuesNothing() throws {
        let fixture = try Fixture()
        let before = try fixture.value("SELECT count(*) FROM spo.execution_job")
        let reply = fixture.execute("customer_get", #"{"p_id": 0}"#, headers: AsyncQueueTests.async)
        try fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        #expect(try fixture.value("SELECT count(*) FROM spo.execution_job") == before)
    }

    @Test func retriesFollowThePolicyThenTheExecutionFailsWithItsErrorReference() throws {
        let fixture = try Fixture()
        let reply = fixture.execute(
            "flaky", #"{"p_key": "\#(freshKey())", "p_failures": 9}"#, headers: AsyncQueueTests.async)
        let id = try #require(reply.json["execution_id"]?.stringValue)
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        let row = try fixture.rows(
            "SELECT status, attempts, error_code, http_status FROM spo.service_execution WHERE id = $1::uuid", [id])
        #expect(row.first == ["failed", "3", "SP_EXECUTION_FAILED", "502"])
        let reference = try fixture.value(
            "SELECT reference FROM spo.service_error WHERE execution_id = $1::uuid AND sqlstate = '40001'", [id])
        #expect(reference != nil)
        let read = fixture.send(HTTPRequest(method: "GET", path: "/api/executions/\(id)"))
        #expect(read.json["error"]?["reference"]?.stringValue == reference)
        #expect(read.json["error"]?["code"] == .string("SP_EXECUTION_FAILED"))
    }

    @Test func concurrentConsumersClaimEveryJobExactlyOnce() throws {
        let fixture = try Fixture()
        let tag = UUID().uuidString.prefix(8)
        let ids = try (0..<120).map { try enqueueNote(fixture, "crowd-\(tag)-\($0)") }
        let consumers = (0..<4).map { UncheckedBox(Consumer(controlConninfo: fixture.conninfo, name: "c\($0)")) }
        let done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for consumer in consumers {
            done.enter()
            Thread {
                go.wait()
                consumer.value.drain()
                done.leave()
            }.start()
        }
        for _ in consumers { go.signal() }
        #expect(done.wait(timeout: .now() + 60) == .success)
        for index in 0..<120 { #expect(try notes(fixture, "crowd-\(tag)-\(index)") == 1) }
        let settled = try fixture.rows(
            """
            SELECT e.status, j.attempts, count(*) FROM spo.service_execution e
            JOIN spo.execution_job j ON j.execution_id = e.id WHERE e.id = ANY($1::uuid[]) GROUP BY 1, 2
            """, ["{" + ids.joined(separator: ",") + "}"])
        #expect(settled == [["succeeded", "1", "120"]])
    }

    @Test func anExpiredLeaseWithoutARecordedTransactionRunsAgain() throws {
        let fixture = try Fixture()
        let note = "lease-\(UUID().uuidString)"
        let id = try enqueueNote(fixture, note)
        let job = try abandon(fixture)
        #expect(job.lease.executionID == id)
        #expect(try status(fixture, id) == "running")
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        #expect(try status(fixture, id) == "succeeded")
        #expect(try notes(fixture, note) == 1)
        #expect(try fixture.value("SELECT attempts FROM spo.execution_job WHERE execution_id = $1::uuid", [id]) == "2")
    }

    @Test func aCommittedTransactionIsSettledFromItsRecordNotRunAgain() throws {
        let fixture = try Fixture()
        let note = "committed-\(UUID().uuidString)"
        let id = try enqueueNote(fixture, note)
        let job = try abandon(fixture)
        let target = try ghostTransaction(fixture, job, note: note)
        try target.execute("COMMIT")  // and then the ghost died before settling
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        #expect(try status(fixture, id) == "succeeded")
        #expect(try notes(fixture, note) == 1)
        #expect(try fixture.value("SELECT attempts FROM spo.execution_job WHERE execution_id = $1::uuid", [id]) == "1")
    }

    @Test func anAbortedTransactionRunsAgain() throws {
        let fixture = try Fixture()
        let note = "aborted-\(UUID().uuidString)"
        let id = try enqueueNote(fixture, note)
        let job = try abandon(fixture)
        let target = try ghostTransaction(fixture, job, note: note)
        try target.execute("ROLLBACK")
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        #expect(try status(fixture, id) == "succeeded")
        #expect(try notes(fixture, note) == 1)
    }

    @Test func aTransactionStillInProgressIsWaitedFor() throws {
        let fixture = try Fixture()
        let note = "pending-\(UUID().uuidString)"
        let id = try enqueueNote(fixture, note)
        let job = try abandon(fixture)
        let target = try ghostTransaction(fixture, job, note: note)
        let consumer = Consumer(controlConninfo: fixture.conninfo, name: "test")
        #expect(consumer.recover() == 1)
        // Neither settled nor run again while the target says "in progress".
        #expect(try status(fixture, id) == "running")
        #expect(
            try fixture.value("SELECT state FROM spo.execution_job WHERE execution_id = $1::uuid", [id]) == "running")
        try target.execute("COMMIT")
        try expireLease(fixture, id)  // the five-second takeover, lapsed
        #expect(consumer.recover() == 1)
        #expect(try status(fixture, id) == "succeeded")
        #expect(try notes(fixture, note) == 1)
    }

    @Test func aLeaseTakenOverFencesOffItsFormerHolder() throws {
        let fixture = try Fixture()
        _ = try enqueueNote(fixture, "fence-\(UUID().uuidString)")
        let job = try abandon(fixture)
        let orphan = try #require(try JobQueue.takeOrphan(by: "rescuer", on: fixture.database))
        #expect(orphan.lease.executionID == job.lease.executionID)
        #expect(try !JobQueue.recordCommit(job.lease, xid: "1", data: "null", on: fixture.database))
        #expect(try !JobQueue.markOutsideTransaction(job.lease, on: fixture.database))
        #expect(try JobQueue.recordCommit(orphan.lease, xid: "1", data: "null", on: fixture.database))
    }

    @Test func aProcedureThatCommitsItselfRunsOutsideATransactionOnce() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE PROCEDURE demo.note_and_commit(p_note text) LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO demo.order_note (customer_id, note) VALUES (1, p_note);
                    COMMIT;
                END $$;
                """,
            services: """
                [{"name": "note_commit", "connection": "demo", "procedure": "demo.note_and_commit",
                  "parameters": "discover", "retry_policy": "none"}]
                """)
        let note = "commit-\(UUID().uuidString)"
        let reply = fixture.execute("note_commit", #"{"p_note": "\#(note)"}"#, headers: AsyncQueueTests.async)
        let id = try #require(reply.json["execution_id"]?.stringValue, "\(reply.text)")
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        #expect(try status(fixture, id) == "succeeded")
        #expect(try notes(fixture, note) == 1)
        #expect(
            try fixture.value("SELECT outside_transaction FROM spo.execution_job WHERE execution_id = $1::uuid", [id])
                == "t")

        // Lost while it ran outside a transaction: it may have run, and it is not safe to repeat.
        let second = fixture.execute("note_commit", #"{"p_note": "x-\#(note)"}"#, headers: AsyncQueueTests.async)
        let lostID = try #require(second.json["execution_id"]?.stringValue)
        let job = try abandon(fixture)
        #expect(try JobQueue.markOutsideTransaction(job.lease, on: fixture.database))
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        #expect(try status(fixture, lostID) == "interrupted")
        #expect(try notes(fixture, "x-\(note)") == 0)
        let message = try fixture.value("SELECT message FROM spo.service_error WHERE execution_id = $1::uuid", [lostID])
        #expect(message?.contains("may have run") == true)
    }

    /// A connection lost before COMMIT was sent leaves a transaction that cannot have committed:
    /// a queued call is retried under its policy even when VOLATILE (synchronously, it is not).
    @Test func aVolatileCallCutBeforeCommitIsRetriedAndRunsOnce() throws {
        let fixture = try Fixture()
        try fixture.register(
            sql: """
                CREATE SEQUENCE demo.cut_calls;
                CREATE FUNCTION demo.cut_once(p_note text) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
                BEGIN
                    INSERT INTO demo.order_note (customer_id, note) VALUES (1, p_note);
                    IF nextval('demo.cut_calls') = 1 THEN
                        PERFORM pg_terminate_backend(pg_backend_pid());
                        PERFORM pg_sleep(5);
                    END IF;
                END $$;
                """,
            services: """
                [{"name": "cut_once", "connection": "demo", "procedure": "demo.cut_once", "parameters": "discover",
                  "retry_policy": "default", "timeout_ms": 10000}]
                """)
        let note = "cut-\(UUID().uuidString)"
        let reply = fixture.execute("cut_once", #"{"p_note": "\#(note)"}"#, headers: AsyncQueueTests.async)
        let id = try #require(reply.json["execution_id"]?.stringValue, "\(reply.text)")
        Consumer(controlConninfo: fixture.conninfo, name: "test").drain()
        #expect(try status(fixture, id) == "succeeded")
        #expect(try notes(fixture, note) == 1)
        let outcomes = try fixture.rows(
            "SELECT outcome FROM spo.service_log WHERE execution_id = $1::uuid ORDER BY attempt", [id]
        ).map { $0[0] }
        #expect(outcomes == ["connection_failed", "succeeded"])
    }

    @Test func statusesAnswerEachIdInOrder() throws {
        let fixture = try Fixture()
        let id = try enqueueNote(fixture, "status-\(UUID().uuidString)")
        let unknown = RandomID.uuid()
        let reply = fixture.post("/api/executions/status", #"{"ids": ["\#(id)", "\#(unknown)"]}"#)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["items"]?.arrayValue?[0]["execution_id"] == .string(id))
        #expect(reply.json["items"]?.arrayValue?[0]["status"] == .string("queued"))
        #expect(reply.json["items"]?.arrayValue?[1]["status"] == .null)
        let bad = fixture.post("/api/executions/status", #"{"ids": ["\#(id)", "nope"]}"#)
        let error = try fixture.expectError(bad, "INVALID_PARAMETERS", status: 400)
        #expect(error["details"]?.arrayValue?[0]["parameter"] == .string("ids[1]"))
        let tooMany = (0...EndpointTable.executionStatusLimit).map { _ in "\"\(RandomID.uuid())\"" }
        let long = fixture.post("/api/executions/status", #"{"ids": [\#(tooMany.joined(separator: ","))]}"#)
        try fixture.expectError(long, "INVALID_PARAMETERS", status: 400)
    }

    @Test func depthCountsQueuedAndRunningJobs() throws {
        let fixture = try Fixture()
        let before = try JobQueue.depth(on: fixture.database)
        _ = try enqueueNote(fixture, "depth-\(UUID().uuidString)")
        _ = try enqueueNote(fixture, "depth-\(UUID().uuidString)")
        _ = try JobQueue.claim(by: "ghost", on: fixture.database)
        let after = try JobQueue.depth(on: fixture.database)
        #expect(after.queued == before.queued + 1)
        #expect(after.running == before.running + 1)
        #expect(after.oldestQueuedSeconds >= 0)
    }
}
