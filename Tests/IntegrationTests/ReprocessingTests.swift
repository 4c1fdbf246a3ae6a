import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// `POST /api/executions/{id}/reprocess` is guarded: only what failed, timed out or was
/// interrupted is re-run without `"force": true`, once, and two requests for one execution never
/// both run it.
@Suite struct ReprocessingTests {
    private func reprocess(_ world: AdminWritesTests.World, _ id: String, _ body: String = "{}") -> Reply {
        world.send("POST", "/api/executions/\(id)/reprocess", body)
    }

    /// The (new execution, forced) rows of reprocessing of `original`, oldest first.
    private func claims(_ world: AdminWritesTests.World, of original: String) throws -> [[String?]] {
        try world.fixture.rows(
            "SELECT new_execution_id::text, forced::text FROM spo.service_reprocessing "
                + "WHERE original_execution_id = $1 ORDER BY id", [original])
    }

    private func reruns(_ world: AdminWritesTests.World, of original: String) throws -> [String] {
        try world.fixture.rows(
            "SELECT id::text FROM spo.service_execution WHERE reprocess_of = $1 ORDER BY id", [original]
        ).map { $0[0] ?? "" }
    }

    private func statuses(_ replies: [Reply]) -> [Int: Int] {
        Dictionary(replies.map { ($0.status, 1) }, uniquingKeysWith: +)
    }

    @Test func whatSucceededOrWasRejectedIsReprocessedOnlyWithForce() throws {
        let world = try AdminWritesTests.World(workers: 1)
        let succeeded = try world.admin.executionID(world.admin.execute("customer_count"))
        let rejected = try world.admin.executionID(world.admin.execute("customer_get", #"{"p_id": 0}"#))
        let executions = try world.fixture.value("SELECT count(*) FROM spo.service_execution")
        for (id, status) in [(succeeded, "succeeded"), (rejected, "rejected")] {
            for body in ["{}", #"{"force": false, "reason": "again"}"#, #"{"parameters": {"p_id": 3}}"#] {
                let error = try world.fixture.expectError(reprocess(world, id, body), "CONFLICT", status: 409)
                #expect(
                    error["message"]?.stringValue
                        == "execution \(id) is \(status); only failed, timeout or interrupted executions are "
                        + "reprocessed — send \"force\": true to run it again anyway")
            }
            #expect(try claims(world, of: id).isEmpty)
        }
        #expect(try world.fixture.value("SELECT count(*) FROM spo.service_execution") == executions)

        let forced = reprocess(world, succeeded, #"{"force": true, "reason": "recount"}"#)
        #expect(forced.status == 200, "\(forced.text)")
        #expect(forced.json["reprocess_of"] == .string(succeeded))
        let new = try #require(forced.json["execution_id"]?.stringValue)
        #expect(try claims(world, of: succeeded) == [[new, "true"]])
        #expect(try reruns(world, of: succeeded) == [new])
        let fixed = reprocess(world, rejected, #"{"force": true, "parameters": {"p_id": 3}}"#)
        #expect(fixed.status == 200, "\(fixed.text)")
    }

    @Test func failedTimedOutAndInterruptedExecutionsAreReprocessedOnceWithoutForce() throws {
        let world = try AdminWritesTests.World(workers: 1)
        let failed = try world.admin.executionID(world.admin.execute("business_failure", #"{"p_code": "E101"}"#))
        let first = reprocess(world, failed, #"{"reason": "retry"}"#)
        try world.fixture.expectError(first, "SP_EXECUTION_FAILED", status: 422)
        let rerun = try world.admin.executionID(first)
        #expect(try claims(world, of: failed) == [[rerun, "false"]])
        // Reprocessed once: again only with force (its re-run is the one to reprocess).
        let again = try world.fixture.expectError(reprocess(world, failed), "CONFLICT", status: 409)
        #expect(
            again["message"]?.stringValue
                == "execution \(failed) was reprocessed already (as \(rerun)); reprocess that one, "
                + "or send \"force\": true to run this one again")
        #expect(try claims(world, of: failed).count == 1)
        #expect(reprocess(world, rerun).status == 422, "the re-run failed too, and can be reprocessed")
        let forced = reprocess(world, failed, #"{"force": true}"#)
        #expect(forced.status == 422)
        #expect(try claims(world, of: failed) == [[rerun, "false"], [try world.admin.executionID(forced), "true"]])

        for status in ["timeout", "interrupted"] {
            let id = try world.admin.executionID(world.admin.execute("customer_count"))
            // A finished row is never changed (migration 13's trigger): this test stages one by
            // hand, with triggers off for the statement's session (superuser only).
            try world.fixture.database.execute("SET session_replication_role = replica")
            try world.fixture.database.execute(
                "UPDATE spo.service_execution SET status = $1 WHERE id = $2", [status, id])
            try world.fixture.database.execute("RESET session_replication_role")
            let reply = reprocess(world, id)
            #expect(reply.status == 200, "\(status): \(reply.text)")
            #expect(try reruns(world, of: id).count == 1)
        }
    }

    /// Eight workers asking at the same instant to re-run one failed execution: one runs it.
    @Test func concurrentRequestsReprocessAFailedExecutionOnce() throws {
        let world = try AdminWritesTests.World()
        for round in 0..<5 {
            let failed = try world.admin.executionID(
                world.admin.execute("business_failure", #"{"p_code": "E20\#(round)"}"#))
            let replies = try world.everyone("POST", "/api/executions/\(failed)/reprocess") { index in
                #"{"reason": "worker \#(index)"}"#
            }
            #expect(statuses(replies) == [422: 1, 409: world.crowd.size - 1], "\(replies.map(\.text))")
            for reply in replies where reply.status == 409 {
                try world.fixture.expectError(reply, "CONFLICT", status: 409)
                #expect(reply.header("X-Execution-ID") == nil, "a refused request ran nothing")
            }
            let ran = try world.admin.executionID(try #require(replies.first { $0.status == 422 }))
            #expect(try claims(world, of: failed) == [[ran, "false"]])
            #expect(try reruns(world, of: failed) == [ran])
        }
    }

    /// With force, reprocessing the same execution again later is legitimate; at the same time it
    /// is not: while one re-run is running (0.8 s, so every request of the crowd comes while it
    /// does), the others are refused.
    @Test func concurrentForcedRequestsRunOneAtATime() throws {
        let world = try AdminWritesTests.World()
        let original = try world.admin.executionID(world.admin.execute("slow", #"{"p_seconds": 0.8}"#))
        for round in 1...3 {
            let replies = try world.everyone("POST", "/api/executions/\(original)/reprocess") { _ in #"{"force": true}"#
            }
            #expect(statuses(replies) == [200: 1, 409: world.crowd.size - 1], "\(replies.map(\.text))")
            let ran = try #require(replies.first { $0.status == 200 }?.json["execution_id"]?.stringValue)
            for reply in replies where reply.status == 409 {
                let error = try world.fixture.expectError(reply, "CONFLICT", status: 409)
                #expect(
                    error["message"]?.stringValue
                        == "execution \(original) is being reprocessed right now (as \(ran)); wait for that run")
            }
            #expect(try claims(world, of: original).count == round)
            #expect(try reruns(world, of: original).count == round)
        }
    }

    @Test func aClaimWhoseRunNeverReportedExpires() throws {
        let world = try AdminWritesTests.World(workers: 1)
        let original = try world.admin.executionID(world.admin.execute("customer_count"))
        let lost = RandomID.uuid()
        // A worker claimed a re-run and died before its journal noted it: no execution row, ever.
        try world.fixture.database.execute(
            """
            INSERT INTO spo.service_reprocessing (original_execution_id, new_execution_id, requested_by, forced,
                claimed_until) VALUES ($1, $2, 'ops-admin', true, now() + interval '1 hour')
            """, [original, lost])
        let error = try world.fixture.expectError(
            reprocess(world, original, #"{"force": true}"#), "CONFLICT", status: 409)
        #expect(error["message"]?.stringValue?.contains("being reprocessed right now (as \(lost))") == true)
        try world.fixture.database.execute(
            "UPDATE spo.service_reprocessing SET claimed_until = now() - interval '1 second' WHERE new_execution_id = $1",
            [lost])
        #expect(reprocess(world, original, #"{"force": true}"#).status == 200)
    }

    @Test func forceMustBeABooleanAndARefusedRequestWritesNothing() throws {
        let world = try AdminWritesTests.World(workers: 1)
        let failed = try world.admin.executionID(world.admin.execute("business_failure"))
        for body in [#"{"force": "yes"}"#, #"{"force": 1}"#, #"{"force": null}"#] {
            let error = try world.fixture.expectError(reprocess(world, failed, body), "INVALID_PARAMETERS", status: 400)
            #expect(error["details"]?.arrayValue?.first?["parameter"] == .string("force"), "\(body)")
        }
        try world.fixture.expectError(
            reprocess(world, failed, #"{"parameters": {"p_code": 5}}"#), "INVALID_PARAMETERS", status: 400)
        try world.fixture.expectError(reprocess(world, RandomID.uuid(), #"{"force": true}"#), "NOT_FOUND", status: 404)
        #expect(try claims(world, of: failed).isEmpty)
        #expect(try reruns(world, of: failed).isEmpty)
    }
}
