import Foundation
import SPOJSON
import SPOPostgres
import Synchronization
import Testing

@testable import SPOCore
@testable import SPOServer

/// `Idempotency-Key` on execute: the first request runs, a repeat answers the stored answer
/// without running, another call under the key is 422, a repeat while the first runs is 409, and
/// PostgreSQL — not a worker — decides which of simultaneous requests runs.
@Suite struct IdempotencyTests {
    /// A fixture with `idem.record` (sleeps, inserts a row into `idem.call`, answers its id) served
    /// by services that differ in their idempotency settings.
    final class World {
        let fixture: Fixture

        init() throws {
            fixture = try Fixture()
            let service = { (name: String, extra: String) in
                #"{"name": "\#(name)", "connection": "demo", "procedure": "idem.record", "parameters": "discover", "#
                    + #""timeout_ms": 5000\#(extra)}"#
            }
            try fixture.register(
                sql: """
                    CREATE SCHEMA idem;
                    CREATE TABLE idem.call (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag text NOT NULL,
                        payload jsonb);
                    CREATE FUNCTION idem.record(p_tag text, p_seconds float8 DEFAULT 0, p_payload jsonb DEFAULT NULL)
                        RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
                    DECLARE n bigint;
                    BEGIN
                        PERFORM pg_sleep(p_seconds);
                        INSERT INTO idem.call (tag, payload) VALUES (p_tag, p_payload) RETURNING id INTO n;
                        RETURN n;
                    END $$;
                    """,
                services: "["
                    + [
                        service("idem_record", ""), service("idem_safe", #", "idempotent": true"#),
                        service("idem_required", #", "idempotency": "required""#),
                        service("idem_short", #", "idempotency_ttl_s": 1"#),
                    ].joined(separator: ", ") + "]")
        }

        func execute(
            _ service: String, _ body: String, key: String?, authorization: String? = nil
        ) -> Reply {
            var headers: [String: String] = [:]
            if let key { headers["idempotency-key"] = key }
            if let authorization { headers["authorization"] = "Bearer \(authorization)" }
            return fixture.execute(service, body, headers: headers)
        }

        /// Rows `idem.record` inserted with `tag`: how often the routine really ran.
        func calls(_ tag: String) throws -> Int {
            Int(try fixture.value("SELECT count(*) FROM idem.call WHERE tag = $1", [tag]) ?? "") ?? -1
        }

        /// Audited executions that carried `key`.
        func executions(key: String) throws -> Int {
            Int(try fixture.value("SELECT count(*) FROM spo.service_execution WHERE idempotency_key = $1", [key]) ?? "")
                ?? -1
        }

        func keyRow(_ key: String) throws -> [String?]? {
            try fixture.rows(
                "SELECT state, http_status::text, execution_id::text FROM spo.idempotency_key WHERE key = $1", [key]
            ).first
        }
    }

    private func tag() -> String { "t-" + UUID().uuidString.lowercased() }

    @Test func aRepeatAnswersTheStoredAnswerWithoutRunningAgain() throws {
        let world = try World()
        let (tag, key) = (tag(), tag())
        let first = world.execute("idem_record", #"{"p_tag": "\#(tag)", "p_payload": {"a": 1, "b": [2, 3]}}"#, key: key)
        #expect(first.status == 200, "\(first.text)")
        #expect(first.header("Idempotent-Replayed") == nil)
        let id = try #require(first.header("X-Execution-ID"))
        // Members in another order, inside the jsonb value too: the same call.
        let again = world.execute("idem_record", #"{"p_payload": {"b": [2, 3], "a": 1}, "p_tag": "\#(tag)"}"#, key: key)
        #expect(again.status == 200, "\(again.text)")
        #expect(again.text == first.text)
        #expect(again.header("Idempotent-Replayed") == "true")
        #expect(again.header("X-Execution-ID") == id)
        #expect(again.header("Content-Type") == "application/json")
        #expect(again.header("X-Correlation-ID") != first.header("X-Correlation-ID"), "a request's own correlation id")
        #expect(try world.calls(tag) == 1)
        #expect(try world.executions(key: key) == 1)
        #expect(try world.keyRow(key) == ["completed", "200", id])
    }

    @Test func anotherCallUnderTheKeyIs422AndRunsNothing() throws {
        let world = try World()
        let (tag, other, key) = (tag(), tag(), tag())
        #expect(world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key).status == 200)
        let changed = world.execute("idem_record", #"{"p_tag": "\#(other)"}"#, key: key)
        let error = try world.fixture.expectError(changed, "IDEMPOTENCY_KEY_MISMATCH", status: 422)
        #expect(error["message"]?.stringValue?.contains("other parameters") == true, "\(changed.text)")
        let elsewhere = world.execute("idem_safe", #"{"p_tag": "\#(tag)"}"#, key: key)
        let second = try world.fixture.expectError(elsewhere, "IDEMPOTENCY_KEY_MISMATCH", status: 422)
        #expect(second["message"]?.stringValue?.contains("service idem_record") == true, "\(elsewhere.text)")
        #expect(try world.calls(other) == 0)
        #expect(try world.calls(tag) == 1)
        #expect(try world.executions(key: key) == 1)
    }

    @Test func theRoutinesErrorIsKeptAndAnsweredAgain() throws {
        let world = try World()
        let key = tag()
        let first = world.execute("business_failure", #"{"p_code": "E042"}"#, key: key)
        let error = try world.fixture.expectError(first, "SP_EXECUTION_FAILED", status: 422)
        let again = world.execute("business_failure", #"{"p_code": "E042"}"#, key: key)
        #expect(again.status == 422)
        #expect(again.text == first.text, "the same reference, the same message")
        #expect(again.header("Idempotent-Replayed") == "true")
        #expect(again.header("X-Execution-ID") == first.header("X-Execution-ID"))
        #expect(error["reference"] != nil)
        #expect(try world.executions(key: key) == 1)
    }

    @Test func aRefusedCallLeavesTheKeyUnused() throws {
        let world = try World()
        let (tag, key) = (tag(), tag())
        let refused = world.execute("idem_record", #"{"p_tag": "\#(tag)", "p_seconds": "soon"}"#, key: key)
        try world.fixture.expectError(refused, "INVALID_PARAMETERS", status: 400)
        #expect(try world.keyRow(key) == nil)
        let fixed = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key)
        #expect(fixed.status == 200, "\(fixed.text)")
        #expect(fixed.header("Idempotent-Replayed") == nil)
        #expect(try world.calls(tag) == 1)
    }

    @Test func nothingRanWhenTheDatabaseWasUnreachableSoTheKeyIsReleased() throws {
        let world = try World()
        let (tag, key) = (tag(), tag())
        try world.fixture.database.execute(
            "UPDATE spo.connection SET conninfo = 'host=/nonexistent/spo-idem port=1 dbname=x connect_timeout=2' "
                + "WHERE name = 'demo'")
        try world.fixture.reload()
        let unreachable = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key)
        try world.fixture.expectError(unreachable, "DB_CONNECTION_FAILED", status: 503)
        #expect(try world.keyRow(key) == nil, "released in the audit's statement")
        #expect(try world.executions(key: key) == 1)
    }

    @Test func aMalformedKeyIsRefusedNotIgnored() throws {
        let world = try World()
        let tag = tag()
        for key in ["", "has space", String(repeating: "k", count: 129), "semi;colon", "ключ"] {
            let reply = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key)
            let error = try world.fixture.expectError(reply, "IDEMPOTENCY_KEY_INVALID", status: 400)
            #expect(error["message"]?.stringValue?.contains("Idempotency-Key") == true)
        }
        let envelope = world.fixture.post(
            "/api/execute", #"{"service": "idem_record", "parameters": {"p_tag": "\#(tag)"}}"#,
            headers: ["idempotency-key": "bad key"])
        try world.fixture.expectError(envelope, "IDEMPOTENCY_KEY_INVALID", status: 400)
        #expect(try world.calls(tag) == 0)
        let longest = String(repeating: "k", count: 128)
        #expect(world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: longest).status == 200)
    }

    @Test func theEnvelopeFormSharesTheKey() throws {
        let world = try World()
        let (tag, key) = (tag(), tag())
        let first = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key)
        let envelope = world.fixture.post(
            "/api/execute", #"{"service": "idem_record", "parameters": {"p_tag": "\#(tag)"}}"#,
            headers: ["idempotency-key": key])
        #expect(envelope.status == 200)
        #expect(envelope.header("Idempotent-Replayed") == "true")
        #expect(envelope.text == first.text)
        #expect(try world.calls(tag) == 1)
    }

    @Test func aServiceCanRequireAKey() throws {
        let world = try World()
        let tag = tag()
        let without = world.execute("idem_required", #"{"p_tag": "\#(tag)"}"#, key: nil)
        let error = try world.fixture.expectError(without, "IDEMPOTENCY_KEY_INVALID", status: 400)
        #expect(error["message"]?.stringValue?.contains("requires an Idempotency-Key") == true)
        #expect(
            try world.fixture.value(
                "SELECT status FROM spo.service_execution WHERE id = $1", [without.header("X-Execution-ID")])
                == "rejected")
        #expect(try world.calls(tag) == 0)
        #expect(world.execute("idem_required", #"{"p_tag": "\#(tag)"}"#, key: self.tag()).status == 200)
        #expect(try world.calls(tag) == 1)
        #expect(world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: nil).status == 200, "optional by default")
    }

    @Test func theSettingsRoundTripThroughDocumentsAndExport() throws {
        let world = try World()
        let configuration = try ConfigurationStore.load(from: world.fixture.database)
        let required = try #require(configuration.services["idem_required"])
        #expect(required.idempotency == .required)
        #expect(required.idempotencyTTLSeconds == 86_400)
        #expect(configuration.services["idem_short"]?.idempotencyTTLSeconds == 1)
        #expect(configuration.services["idem_record"]?.idempotency == .optional)
        let document = ServiceDocument.document(for: required)
        #expect(document["idempotency"] == .string("required"))
        #expect(document["idempotency_ttl_s"] == .number(86_400))
        // Sent back as it was read, it changes nothing.
        let draft = try ServiceDocument.draft(from: document)
        #expect(draft.idempotency == .required)
        let exported = ConfigurationImporter.export(configuration)
        let short = exported["services"]?.arrayValue?.first { $0["name"] == .string("idem_short") }
        #expect(short?["idempotency_ttl_s"] == .number(1))
        #expect(short?["idempotency"] == .string("optional"))
    }

    @Test func keysAreScopedPerAPIKey() throws {
        let world = try World()
        let first = try APIKeyStore.create(name: "client-a", role: .executor, grants: ["*"], on: world.fixture.database)
        let second = try APIKeyStore.create(
            name: "client-b", role: .executor, grants: ["*"], on: world.fixture.database)
        try world.fixture.reload()
        let (tag, key) = (tag(), tag())
        let a = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key, authorization: first)
        let b = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key, authorization: second)
        #expect(a.status == 200 && b.status == 200)
        #expect(b.header("Idempotent-Replayed") == nil, "another client's key of the same name")
        #expect(a.header("X-Execution-ID") != b.header("X-Execution-ID"))
        #expect(try world.calls(tag) == 2)
        let againA = world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: key, authorization: first)
        #expect(againA.header("Idempotent-Replayed") == "true")
        #expect(againA.text == a.text)
        // Another client's parameters under the same key string are no mismatch of this one's.
        let other = world.execute("idem_record", #"{"p_tag": "x\#(tag)"}"#, key: "b-" + key, authorization: second)
        #expect(other.status == 200)
        #expect(try world.calls(tag) == 2)
    }

    @Test func aRepeatWhileTheFirstRunsIs409() throws {
        let world = try World()
        let (tag, key) = (tag(), tag())
        let second = RequestHandler(
            configuration: try ConfigurationStore.load(from: world.fixture.database),
            control: ControlDatabase(conninfo: world.fixture.conninfo))
        let body = #"{"p_tag": "\#(tag)", "p_seconds": 1.5}"#
        let firstReply = Mutex<UncheckedBox<Reply>?>(nil)
        let boxed = UncheckedBox(world)
        let running = Thread {
            let reply = boxed.value.execute("idem_record", body, key: key)
            firstReply.withLock { $0 = UncheckedBox(reply) }
        }
        running.start()
        #expect(try eventually(within: 10) { try world.keyRow(key)?.first == "running" })
        let busy = Reply(
            second.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/idem_record/execute",
                    headers: [
                        "content-type": "application/json", "idempotency-key": key,
                        "authorization": world.fixture.authorization,
                    ], body: Array(body.utf8))))
        let error = try world.fixture.expectError(busy, "IDEMPOTENCY_KEY_IN_USE", status: 409)
        #expect(busy.header("Retry-After") == "1")
        #expect(error["message"]?.stringValue?.contains("still running") == true)
        #expect(eventually(within: 20) { firstReply.withLock { $0 != nil } })
        let first = try #require(firstReply.withLock { $0?.value })
        #expect(first.status == 200, "\(first.text)")
        let after = Reply(
            second.handle(
                HTTPRequest(
                    method: "POST", path: "/api/services/idem_record/execute",
                    headers: [
                        "content-type": "application/json", "idempotency-key": key,
                        "authorization": world.fixture.authorization,
                    ], body: Array(body.utf8))))
        #expect(after.status == 200)
        #expect(after.header("Idempotent-Replayed") == "true")
        #expect(after.text == first.text)
        #expect(try world.calls(tag) == 1)
    }

    @Test func simultaneousRequestsWithOneKeyRunOnce() throws {
        let world = try World()
        let crowd = try Crowd(size: 16, conninfo: world.fixture.conninfo)
        let authorization = world.fixture.authorization
        for round in 0..<3 {
            let (tag, key) = (tag(), tag())
            let body = #"{"p_tag": "\#(tag)", "p_seconds": \#(round == 0 ? "0.3" : "0")}"#
            let replies = try crowd.send { _ in
                HTTPRequest(
                    method: "POST", path: "/api/services/idem_record/execute",
                    headers: [
                        "content-type": "application/json", "idempotency-key": key, "authorization": authorization,
                    ], body: Array(body.utf8))
            }
            #expect(try world.calls(tag) == 1, "round \(round)")
            #expect(try world.executions(key: key) == 1, "round \(round)")
            let ran = replies.filter { $0.status == 200 && $0.header("Idempotent-Replayed") == nil }
            #expect(ran.count == 1, "round \(round): \(replies.map { "\($0.status) \($0.text)" })")
            for reply in replies where reply.status != 200 {
                try world.fixture.expectError(reply, "IDEMPOTENCY_KEY_IN_USE", status: 409)
            }
            for reply in replies where reply.status == 200 { #expect(reply.text == ran.first?.text) }
        }
    }

    @Test func anExpiredKeyRunsAfreshAndIsSweptAway() throws {
        let world = try World()
        let (tag, key) = (tag(), tag())
        let first = world.execute("idem_short", #"{"p_tag": "\#(tag)"}"#, key: key)
        #expect(first.status == 200)
        #expect(world.execute("idem_short", #"{"p_tag": "\#(tag)"}"#, key: key).header("Idempotent-Replayed") == "true")
        #expect(
            try eventually(within: 10) {
                try world.fixture.value("SELECT expires_at <= now() FROM spo.idempotency_key WHERE key = $1", [key])
                    == "t"
            })
        // Expired: the key may be used afresh, even for another call.
        let fresh = world.execute("idem_short", #"{"p_tag": "\#(tag)", "p_seconds": 0}"#, key: key)
        #expect(fresh.status == 200, "\(fresh.text)")
        #expect(fresh.header("Idempotent-Replayed") == nil)
        #expect(fresh.header("X-Execution-ID") != first.header("X-Execution-ID"))
        #expect(try world.calls(tag) == 2)

        // The sweep deletes expired keys in batches, and only those.
        let kept = self.tag()
        #expect(world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: kept).status == 200)
        try world.fixture.database.execute(
            """
            INSERT INTO spo.idempotency_key (scope, key, fingerprint, service_name, state, execution_id,
                http_status, response_body, response_headers, expires_at)
            SELECT 'anonymous', 'old-' || n, 'f', 'idem_record', 'completed', gen_random_uuid(), 200, '{}', '[]',
                now() - interval '1 hour'
            FROM generate_series(1, 1500) n
            """)
        // The fresh run's key expires a second later too.
        #expect(
            try eventually(within: 10) {
                try world.fixture.value("SELECT expires_at <= now() FROM spo.idempotency_key WHERE key = $1", [key])
                    == "t"
            })
        var sweep = IdempotencyKeySweep()
        #expect(sweep.runIfDue(on: world.fixture.database) == nil, "not due at start")
        let later = ContinuousClock.now + .seconds(61)
        #expect(sweep.runIfDue(on: world.fixture.database, now: later) == IdempotencyKeySweep.batchSize)
        #expect(sweep.runIfDue(on: world.fixture.database, now: later + .seconds(2)) == 500 + 1, "again at once")
        #expect(sweep.runIfDue(on: world.fixture.database, now: later + .seconds(4)) == nil, "a minute later")
        let left = try world.fixture.rows("SELECT key FROM spo.idempotency_key ORDER BY key").map { $0[0] ?? "" }
        #expect(left == [kept], "the expired rows (the short one too) are gone")
    }

    /// A claim whose worker died (simulated: the row put back to running, its lock passed) blocks
    /// only until its lock passes: then a service safe to repeat runs again, and one that is not
    /// answers that the first may have run, without running it.
    @Test func aDeadWorkersClaimBlocksOnlyUntilItsLockPasses() throws {
        let world = try World()
        for (service, safe) in [("idem_safe", true), ("idem_record", false)] {
            let (tag, key) = (tag(), tag())
            let body = #"{"p_tag": "\#(tag)"}"#
            let first = world.execute(service, body, key: key)
            let original = try #require(first.header("X-Execution-ID"))
            try world.fixture.database.execute(
                "UPDATE spo.idempotency_key SET state = 'running', http_status = NULL, response_body = NULL, "
                    + "response_headers = NULL, locked_until = now() + interval '1 hour' WHERE key = $1", [key])
            try world.fixture.expectError(
                world.execute(service, body, key: key), "IDEMPOTENCY_KEY_IN_USE", status: 409)
            try world.fixture.database.execute(
                "UPDATE spo.idempotency_key SET locked_until = now() - interval '1 second' WHERE key = $1", [key])
            // Another call is still another call.
            try world.fixture.expectError(
                world.execute(service, #"{"p_tag": "x\#(tag)"}"#, key: key), "IDEMPOTENCY_KEY_MISMATCH", status: 422)
            let repeated = world.execute(service, body, key: key)
            if safe {
                #expect(repeated.status == 200, "\(repeated.text)")
                #expect(repeated.header("Idempotent-Replayed") == nil)
                #expect(repeated.header("X-Execution-ID") != original)
                #expect(try world.calls(tag) == 2)
                let replay = world.execute(service, body, key: key)
                #expect(replay.header("Idempotent-Replayed") == "true")
                #expect(replay.text == repeated.text)
            } else {
                let error = try world.fixture.expectError(repeated, "INTERNAL_ERROR", status: 500)
                let message = error["message"]?.stringValue ?? ""
                #expect(message.contains(original) && message.contains("may have run"), "\(message)")
                #expect(error["details"] == .array([.object(["execution_id": .string(original)])]))
                #expect(try world.calls(tag) == 1)
                #expect(try world.keyRow(key)?.first == "running", "the first's answer may still come")
            }
        }
    }

    @Test func reprocessingIgnoresTheOriginalsKey() throws {
        let admin = try AdminAPITests.Admin()
        let key = tag()
        let first = admin.fixture.execute(
            "business_failure", #"{"p_code": "E007"}"#,
            headers: admin.authorization.merging(["idempotency-key": key]) { $1 })
        #expect(first.status == 422)
        let original = try admin.executionID(first)
        let rerun = admin.fixture.post(
            "/api/executions/\(original)/reprocess", #"{"reason": "again"}"#, headers: admin.authorization)
        #expect(rerun.status == 422, "run again: \(rerun.text)")
        #expect(rerun.header("Idempotent-Replayed") == nil)
        #expect(rerun.header("X-Execution-ID") != original)
        #expect(
            try admin.fixture.rows("SELECT execution_id::text FROM spo.idempotency_key WHERE key = $1", [key])
                == [[original]])
        let replay = admin.fixture.execute(
            "business_failure", #"{"p_code": "E007"}"#,
            headers: admin.authorization.merging(["idempotency-key": key]) { $1 })
        #expect(replay.header("X-Execution-ID") == original)
        #expect(replay.text == first.text)
    }

    /// An answer spooled while the control database was away is stored under its key when the
    /// spool is replayed (twice, too: the replay forms tolerate it), even if its claim was lost.
    @Test func aSpooledAnswerIsStoredWhenTheSpoolIsReplayed() throws {
        let world = try World()
        let (key, id) = (tag(), RandomID.uuid())
        let claim = IdempotencyClaim(
            scope: "anonymous", key: key, fingerprint: "f", service: "idem_record", executionID: id,
            lockMilliseconds: 60_000, ttlSeconds: 600)
        guard case .claimed = try claim.take(safeToRepeat: false, on: world.fixture.database) else {
            Issue.record("not claimed")
            return
        }
        let answer = HTTPResponse.json(
            200, .object(["execution_id": .string(id)]),
            headers: [("X-Correlation-ID", "c-1"), ("X-Execution-ID", id)])
        let record = AuditRecord(
            execution: .init(
                id: id, serviceID: 0, serviceName: "idem_record", parameters: .object([]), status: .succeeded,
                httpStatus: 200, errorCode: nil, durationMilliseconds: 1, user: "anonymous", correlationID: "c-1",
                idempotencyKey: key, reprocessOf: nil, attempts: []),
            failure: nil, idempotency: IdempotencyCompletion(claim, answer: answer))
        // The claim is committed without waiting for the disk: say a PostgreSQL crash lost it.
        try world.fixture.database.execute("DELETE FROM spo.idempotency_key WHERE key = $1", [key])
        let path = NSTemporaryDirectory() + "idem-\(UUID().uuidString).spool"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let spool = try #require(AuditSpool(path: path))
        let (statement, values) = try #require(AuditLog().statement(for: record, finishedAt: Date()))
        #expect(statement == .executionKeyed)
        #expect(spool.append(statement, values))
        #expect(spool.append(statement, values))
        #expect(try spool.replayAll(on: world.fixture.database) == 2)
        #expect(try world.keyRow(key) == ["completed", "200", id])
        let stored = try world.fixture.rows(
            "SELECT response_body, response_headers::text FROM spo.idempotency_key WHERE key = $1", [key])
        #expect(
            stored == [
                [
                    String(decoding: answer.body, as: UTF8.self),
                    #"[["Content-Type", "application/json"], ["X-Execution-ID", "\#(id)"]]"#,
                ]
            ])
    }

    @Test func withoutAKeyNothingChanges() throws {
        let world = try World()
        let tag = tag()
        for _ in 0..<2 { #expect(world.execute("idem_record", #"{"p_tag": "\#(tag)"}"#, key: nil).status == 200) }
        #expect(try world.calls(tag) == 2)
        #expect(try world.fixture.value("SELECT count(*) FROM spo.idempotency_key") == "0")
    }
}
