import Foundation
import Glibc
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// The audit never lies: every execution id and error reference a client receives becomes a
/// committed row, through the spool when the control database is away; and nothing runs when
/// neither can take its audit.
@Suite final class AuditSpoolTests {
    /// This test's files (spools, journals), removed with it.
    private let directory = NSTemporaryDirectory() + "spo-spool-" + UUID().uuidString

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A handler serving the fixture's configuration and targets, whose control database is
    /// unreachable (a socket directory that does not exist), with a spool at `spoolPath` if given.
    private func handlerWithoutControl(_ fixture: Fixture, spoolPath: String?) throws -> RequestHandler {
        let handler = RequestHandler(
            configuration: try ConfigurationStore.load(from: fixture.database),
            control: ControlDatabase(conninfo: "host=/nonexistent/spo-audit-test dbname=spo connect_timeout=2"))
        handler.spool = try spoolPath.map { try #require(AuditSpool(path: $0)) }
        return handler
    }

    private func temporaryPath(_ name: String) -> String { directory + "/" + name }

    /// Executes `service` on `handler` with the key of `fixture` (whose configuration it serves).
    private func post(_ handler: RequestHandler, _ fixture: Fixture, _ service: String, _ body: String) -> Reply {
        Reply(
            handler.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/\(service)/execute",
                    headers: ["content-type": "application/json", "authorization": fixture.authorization],
                    body: Array(body.utf8))))
    }

    private func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    @Test func answersGivenWhileTheControlDatabaseIsAwayAreSpooledThenReplayed() throws {
        let fixture = try Fixture()
        let path = temporaryPath("w0.sock.spool")
        let handler = try handlerWithoutControl(fixture, spoolPath: path)

        let success = post(handler, fixture, "customer_get", #"{"p_id": 42}"#)
        #expect(success.status == 200, "\(success.text)")
        let executionID = try #require(success.json["execution_id"]?.stringValue)
        let failure = post(handler, fixture, "business_failure", "{}")
        #expect(failure.status == 422)
        let failureID = try #require(failure.header("X-Execution-ID"))
        let failureReference = try #require(failure.json["error"]?["reference"]?.stringValue)
        let missing = post(handler, fixture, "no_such_service", "{}")
        #expect(missing.status == 404)
        let missingReference = try #require(missing.json["error"]?["reference"]?.stringValue)
        let answeredBy = Date()

        // Nothing reached the control database, all of it is on disk.
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "0")
        #expect(try fixture.value("SELECT count(*) FROM spo.service_error") == "0")
        #expect(fileSize(path) > 0)

        usleep(300_000)  // so a replay that stamped its own time would be told apart
        let spool = try #require(handler.spool)
        #expect(spool.hasPending)
        #expect(try spool.replay(on: fixture.database) == 3)
        #expect(!spool.hasPending)
        #expect(fileSize(path) == 0)

        let rows = try fixture.rows(
            "SELECT id::text, status, http_status::text, error_code, parameters::text, finished_at <= to_timestamp($1::float8) "
                + "FROM spo.service_execution ORDER BY id",
            [String(answeredBy.timeIntervalSince1970 + 0.05)])
        #expect(
            rows
                == [
                    [executionID, "succeeded", "200", nil, #"{"p_id": 42}"#, "t"],
                    [failureID, "failed", "422", "SP_EXECUTION_FAILED", #"{"p_code": "E001"}"#, "t"],
                ].sorted { ($0[0] ?? "") < ($1[0] ?? "") })
        #expect(
            try fixture.rows("SELECT reference::text, execution_id::text, code FROM spo.service_error ORDER BY code")
                == [
                    [missingReference, nil, "SERVICE_NOT_FOUND"], [failureReference, failureID, "SP_EXECUTION_FAILED"],
                ])
    }

    @Test func replayingTheSameRecordsAgainChangesNothing() throws {
        let fixture = try Fixture()
        let path = temporaryPath("w0.sock.spool")
        let handler = try handlerWithoutControl(fixture, spoolPath: path)
        let reply = post(handler, fixture, "business_failure", "{}")
        let reference = try #require(reply.json["error"]?["reference"]?.stringValue)
        let copy = try #require(FileManager.default.contents(atPath: path))

        #expect(try handler.spool?.replay(on: fixture.database) == 1)
        // The replayer died after its commit, before truncating: the same records come again.
        let again = try #require(
            FileManager.default.createFile(atPath: path, contents: copy) ? AuditSpool(path: path) : nil)
        #expect(try again.replayAll(on: fixture.database) == 1)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "1")
        #expect(try fixture.value("SELECT count(*) FROM spo.service_error WHERE reference = $1", [reference]) == "1")
        #expect(try fixture.value("SELECT count(*) FROM spo.service_error") == "1")
        #expect(fileSize(path) == 0)
    }

    @Test func aTornOrDamagedLineIsSkippedAndTheOthersReplayed() throws {
        let fixture = try Fixture()
        let path = temporaryPath("w0.sock.spool")
        let first = try handlerWithoutControl(fixture, spoolPath: path)
        let one = try #require(post(first, fixture, "customer_get", #"{"p_id": 1}"#).json["execution_id"]?.stringValue)
        let two = try #require(post(first, fixture, "customer_get", #"{"p_id": 2}"#).json["execution_id"]?.stringValue)
        // Damage the second record (one byte of its JSON), then a crash mid-write leaves a torn tail.
        var bytes = try #require(FileManager.default.contents(atPath: path))
        let secondLine = try #require(bytes.firstIndex(of: UInt8(ascii: "\n"))) + 1
        bytes[secondLine + 40] ^= 0x01
        let torn = Array(bytes[secondLine..<(secondLine + 30)])
        bytes.append(contentsOf: torn)
        #expect(FileManager.default.createFile(atPath: path, contents: bytes))

        // The next worker of the slot opens the same spool and keeps appending.
        let next = try handlerWithoutControl(fixture, spoolPath: path)
        let three = try #require(post(next, fixture, "customer_get", #"{"p_id": 3}"#).json["execution_id"]?.stringValue)
        #expect(try next.spool?.replayAll(on: fixture.database) == 2)
        let stored = try fixture.rows("SELECT id::text FROM spo.service_execution ORDER BY id").map { $0[0] }
        #expect(stored == [one, three].sorted())
        #expect(!stored.contains(two))
        #expect(fileSize(path) == 0)
    }

    @Test func aRecordAsLargeAsTheBodyLimitIsSpooledAndReplayedWhole() throws {
        let fixture = try Fixture()
        let path = temporaryPath("w0.sock.spool")
        let handler = try handlerWithoutControl(fixture, spoolPath: path)
        // One string as long as the body allows, which the default string limit would refuse first.
        handler.limits.maxStringLength = RequestHandler.maxBodyBytes
        // Quotes and backslashes are escaped twice on the way to the spool: the largest lines.
        let count = RequestHandler.maxBodyBytes / 5 - 20
        let body = #"{"p_id": 1, "junk": ""# + String(repeating: #"\\\"q"#, count: count) + #""}"#
        #expect(body.utf8.count <= RequestHandler.maxBodyBytes)
        let reply = post(handler, fixture, "customer_get", body)
        #expect(reply.status == 400)
        let id = try #require(reply.header("X-Execution-ID"))
        #expect(fileSize(path) > RequestHandler.maxBodyBytes * 3 / 2)
        #expect(try handler.spool?.replayAll(on: fixture.database) == 1)
        let junk = String(repeating: "\\\"q", count: count)
        #expect(
            try fixture.value("SELECT parameters->>'junk' = $2 FROM spo.service_execution WHERE id = $1", [id, junk])
                == "t")
    }

    @Test func aLongOutagesBacklogIsReplayedInBatchesBetweenRequests() throws {
        let fixture = try Fixture()
        let spool = try #require(AuditSpool(path: temporaryPath("w0.sock.spool")))
        let count = AuditSpool.batchSize * 2 + 50
        for _ in 0..<count {
            let record = AuditRecord(
                execution: nil,
                failure: .init(
                    reference: RandomID.uuid(), serviceName: nil, error: APIError(.notFound, "no such endpoint")))
            let (statement, values) = try #require(AuditLog().statement(for: record, finishedAt: Date()))
            #expect(spool.append(statement, values))
        }
        #expect(try spool.replay(on: fixture.database) == AuditSpool.batchSize)
        #expect(spool.hasPending)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_error") == String(AuditSpool.batchSize))
        #expect(try spool.replayAll(on: fixture.database) == count - AuditSpool.batchSize)
        #expect(!spool.hasPending)
        #expect(try fixture.value("SELECT count(*) FROM spo.service_error") == String(count))
        #expect(fileSize(spool.path) == 0)
    }

    @Test func withoutControlDatabaseOrSpoolNothingRunsAndNoIdIsHandedOut() throws {
        let fixture = try Fixture()
        let handler = try handlerWithoutControl(fixture, spoolPath: nil)
        let reply = post(handler, fixture, "note_add", #"{"p_customer_id": 7, "p_note": "must not be written"}"#)
        #expect(reply.status == 503, "\(reply.text)")
        #expect(reply.json["error"]?["code"] == .string("AUDIT_UNAVAILABLE"))
        #expect(reply.json["error"]?["reference"] == .null)
        #expect(reply.header("X-Execution-ID") == nil)
        #expect(try fixture.value("SELECT count(*) FROM demo.order_note") == "0")

        // An error that runs nothing keeps its code, without a reference nobody could look up.
        let missing = post(handler, fixture, "no_such_service", "{}")
        #expect(missing.status == 404)
        #expect(missing.json["error"]?["reference"] == .null)

        // A spool deleted under a running worker is not counted on: its records would go with it.
        let deleted = temporaryPath("w2.sock.spool")
        let orphan = try handlerWithoutControl(fixture, spoolPath: deleted)
        #expect(orphan.spool?.isWritable == true)
        unlink(deleted)
        #expect(orphan.spool?.isWritable == false)
        #expect(post(orphan, fixture, "note_add", #"{"p_customer_id": 7, "p_note": "nor this"}"#).status == 503)
        #expect(try fixture.value("SELECT count(*) FROM demo.order_note") == "0")

        // A spool that cannot be a file of its own (here a directory) is no spool.
        let directory = temporaryPath("w1.sock.spool")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        #expect(AuditSpool(path: directory) == nil)
    }

    @Test func theSupervisorReplaysASpoolThenAuditsTheExecutionInFlight() throws {
        let fixture = try Fixture()
        let base = temporaryPath("w0.sock")
        let (journalPath, spoolPath) = (base + ".inflight", base + ".spool")
        // A worker answered `finished` while the control database was away and died before
        // clearing its journal; the supervisor died too. `unfinished` it never finished.
        let handler = try handlerWithoutControl(fixture, spoolPath: spoolPath)
        let finished = try #require(
            post(handler, fixture, "customer_get", #"{"p_id": 5}"#).json["execution_id"]?.stringValue)
        let unfinished = RandomID.uuid()
        for (path, id) in [(journalPath, finished), (base + "-other.inflight", unfinished)] {
            let journal = try #require(InFlightJournal(path: path))
            journal.begin(
                InFlightEntry(
                    executionID: id, serviceID: 1, serviceName: "customer_get",
                    parameters: .object(["p_id": .number(5)]), user: "someone", correlationID: "corr-\(id)",
                    startedAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000) - 1000))
        }

        // At start, before the control database is back: the interrupted one goes to the spool.
        LeftoverRecovery(
            journalPath: base + "-other.inflight", spoolPath: spoolPath,
            controlConninfo: "host=/nonexistent/spo-audit-test dbname=spo connect_timeout=2"
        ).recover()
        #expect(try fixture.value("SELECT count(*) FROM spo.service_execution") == "0")

        LeftoverRecovery(journalPath: journalPath, spoolPath: spoolPath, controlConninfo: fixture.conninfo).recover()
        let rows = try fixture.rows("SELECT id::text, status, user_name FROM spo.service_execution ORDER BY status")
        #expect(rows == [[unfinished, "interrupted", "someone"], [finished, "succeeded", Fixture.keyName]])
        // The finished execution keeps its real outcome: no error row from the journal's record.
        #expect(try fixture.value("SELECT count(*) FROM spo.service_error WHERE execution_id = $1", [finished]) == "0")
        #expect(
            try fixture.value("SELECT code FROM spo.service_error WHERE execution_id = $1", [unfinished])
                == "INTERNAL_ERROR")
        #expect(fileSize(spoolPath) == 0)
        #expect(InFlightJournal.takeLeftover(at: journalPath) == nil)
    }

    @Test func theSupervisorAuditsEveryJournalSlotOfADeadWorker() throws {
        let fixture = try Fixture()
        // One execution running, one whose answer waited for its row's commit.
        let base = temporaryPath("w2.sock.inflight")
        let ids = [RandomID.uuid(), RandomID.uuid()]
        for (path, id) in zip(InFlightJournal.slotPaths(base), ids) {
            let journal = try #require(InFlightJournal(path: path))
            journal.begin(
                InFlightEntry(
                    executionID: id, serviceID: 1, serviceName: "customer_get",
                    parameters: .object(["p_id": .number(5)]), user: "someone", correlationID: "corr-\(id)",
                    startedAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000) - 1000))
        }
        LeftoverRecovery(
            journalPath: base, spoolPath: temporaryPath("w2.sock.spool"), controlConninfo: fixture.conninfo
        )
        .recover()
        let rows = try fixture.rows("SELECT id::text, status FROM spo.service_execution ORDER BY id")
        #expect(rows == ids.sorted().map { [$0, "interrupted"] })
        #expect(InFlightJournal.slotPaths(base).allSatisfy { InFlightJournal.takeLeftover(at: $0) == nil })
    }

    @Test func theInFlightJournalKeepsARecordAsLargeAsTheBodyLimit() throws {
        let path = temporaryPath("w0.sock.inflight")
        let note = String(repeating: "é and more text, ", count: RequestHandler.maxBodyBytes / 18)
        func entry(_ parameters: JSONValue) -> InFlightEntry {
            InFlightEntry(
                executionID: RandomID.uuid(), serviceID: 3, serviceName: "note_add", parameters: parameters,
                user: "key:notes", correlationID: "c-\"1\"", startedAtMilliseconds: 1_764_000_000_000)
        }
        let record = entry(.object(["p_note": .string(note)]))
        #expect(record.parameters.serialized().utf8.count > RequestHandler.maxBodyBytes * 9 / 10)
        let journal = try #require(InFlightJournal(path: path))
        journal.begin(record)
        let intact = InFlightJournal.takeLeftover(at: path) == record
        #expect(intact, "the record came back cut or unreadable")

        // The next worker maps the grown file whole, and a small record after a large one is read alone.
        let next = try #require(InFlightJournal(path: path))
        let small = entry(.object([]))
        next.begin(small)
        #expect(InFlightJournal.takeLeftover(at: path) == small)
        next.begin(small)
        #expect(InFlightJournal.takeLeftover(at: path) == small, "the journal's buffer is reused")
    }

    @Test func aConfigurationSnapshotIsNeverHalfOldHalfNew() throws {
        let fixture = try Fixture()
        let writer = try PGConnection(conninfo: fixture.conninfo)
        let loader = try PGConnection(conninfo: fixture.conninfo)
        // One change to two tables, committed while a load is between reading the one and the other.
        try writer.execute("BEGIN")
        try writer.execute("UPDATE spo.connection SET description = 'new' WHERE name = 'demo'")
        try writer.execute("UPDATE spo.service SET description = 'new' WHERE name = 'customer_get'")
        try writer.execute("LOCK TABLE spo.service_configuration IN ACCESS EXCLUSIVE MODE")

        let loaderPID = String(loader.backendPID)
        let result = ResultBox(count: 1)
        let done = DispatchSemaphore(value: 0)
        let box = UncheckedBox(loader)
        Thread {
            let loaded = Result<[Int], any Error> {
                let configuration = try ConfigurationStore.load(from: box.value)
                let connectionIsNew = configuration.connections["demo"]?.description == "new"
                let serviceIsNew = configuration.services["customer_get"]?.description == "new"
                return [connectionIsNew ? 1 : 0, serviceIsNew ? 1 : 0]
            }
            result.set(0, loaded)
            done.signal()
        }.start()
        let waiting = try eventually(within: 10) {
            try fixture.value(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                [loaderPID]) == "1"
        }
        #expect(waiting, "the load never reached the locked table")
        try writer.execute("COMMIT")
        #expect(done.wait(timeout: .now() + 10) == .success)
        let seen = try #require(result.all[0]).get()
        #expect(seen[0] == seen[1], "connection new: \(seen[0] == 1), service new: \(seen[1] == 1)")
        #expect(seen == [0, 0], "the snapshot is the one from before the change")
    }
}
