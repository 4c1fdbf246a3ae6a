import Foundation
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Migration 13's roles against a real PostgreSQL: the pool's role (`spo_worker`) serves requests,
/// queues and settles jobs, writes configuration — and cannot rewrite history; `spo_retention`
/// deletes it.
@Suite struct LeastPrivilegeTests {
    /// A fixture whose handler and consumer use the control database as a new login role in
    /// `group`, and a connection as that role.
    struct World {
        let fixture: Fixture
        let handler: RequestHandler
        let roleConninfo: String
        let asRole: PGConnection
        /// An admin key, sent with every request.
        let key: String

        init(group: String = "spo_worker") throws {
            fixture = try Fixture()
            let role = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
            try fixture.database.execute("CREATE ROLE \(role) LOGIN IN ROLE \(group)")
            // libpq takes the last value of a keyword: the same database, as the new role.
            roleConninfo = fixture.conninfo + " user=\(role)"
            asRole = try PGConnection(conninfo: roleConninfo)
            key = try APIKeyStore.create(name: "least-admin", role: .admin, grants: [], on: fixture.database)
            // The worker role reads the configuration itself; the retention role may not.
            handler = RequestHandler(
                configuration: try ConfigurationStore.load(from: group == "spo_worker" ? asRole : fixture.database),
                control: ControlDatabase(conninfo: roleConninfo))
        }

        func send(_ method: String, _ path: String, _ body: String = "", headers: [String: String] = [:]) -> Reply {
            var all = ["content-type": "application/json", "authorization": "Bearer \(key)"]
            for (name, value) in headers { all[name.lowercased()] = value }
            return Reply(
                handler.handle(
                    HTTPRequest(method: method, path: path, headers: HTTPHeaders(all), body: Array(body.utf8))))
        }

        /// The SQLSTATE `sql` fails with as the role, nil when it succeeds.
        func refusal(_ sql: String, _ parameters: [String?] = []) -> String? {
            do {
                _ = try asRole.execute(sql, parameters)
                return nil
            } catch {
                return error.sqlstate
            }
        }
    }

    @Test func theWorkerRoleServesRequestsQueuesAndAdministers() throws {
        let world = try World()
        let call = world.send("POST", "/api/services/customer_get/execute", #"{"p_id": 42}"#)
        #expect(call.status == 200, "\(call.text)")
        let failed = world.send("POST", "/api/services/business_failure/execute", "{}")
        #expect(failed.status == 422, "\(failed.text)")
        #expect(
            try world.fixture.value(
                "SELECT count(*) FROM spo.service_error WHERE reference = $1::uuid",
                [failed.json["error"]?["reference"]?.stringValue]) == "1")

        let queued = world.send(
            "POST", "/api/services/note_add/execute", #"{"p_customer_id": 1, "p_note": "as spo_worker"}"#,
            headers: ["Prefer": "respond-async"])
        #expect(queued.status == 202, "\(queued.text)")
        let id = try #require(queued.json["execution_id"]?.stringValue)
        #expect(Consumer(controlConninfo: world.roleConninfo, name: "least").drain() >= 1)
        #expect(
            try world.fixture.value("SELECT status FROM spo.service_execution WHERE id = $1::uuid", [id]) == "succeeded"
        )

        let policy = world.send("POST", "/api/retry-policies", #"{"name": "least", "max_attempts": 2}"#)
        #expect(policy.status == 201, "\(policy.text)")
        #expect(world.send("DELETE", "/api/retry-policies/least").status == 204)
        let rerun = world.send(
            "POST", "/api/executions/\(try #require(failed.header("X-Execution-ID")))/reprocess",
            #"{"reason": "as the worker role"}"#)
        #expect(rerun.status == 422, "reprocessed (and failed again): \(rerun.text)")
    }

    @Test func theWorkerRoleCannotRewriteOrDeleteHistory() throws {
        let world = try World()
        let done = world.send("POST", "/api/services/business_failure/execute", "{}")
        let finished = try #require(done.header("X-Execution-ID"))
        let reference = try #require(done.json["error"]?["reference"]?.stringValue)

        // A finished execution: the trigger refuses any update, whoever sends it.
        #expect(
            world.refusal("UPDATE spo.service_execution SET status = 'succeeded' WHERE id = $1::uuid", [finished])
                == "42501")
        #expect(throws: PGError.self) {
            try world.fixture.database.execute(
                "UPDATE spo.service_execution SET http_status = 200 WHERE id = $1::uuid", [finished])
        }
        // No DELETE or TRUNCATE of history, no UPDATE of errors or reprocessings.
        for statement in [
            "DELETE FROM spo.service_execution", "DELETE FROM spo.service_error",
            "DELETE FROM spo.service_reprocessing",
            "DELETE FROM spo.execution_job", "TRUNCATE spo.service_execution",
            "UPDATE spo.service_error SET message = 'nothing happened'",
            "UPDATE spo.service_reprocessing SET reason = ''", "DELETE FROM spo.schema_migrations",
            "UPDATE spo.api_key SET role = 'admin'",
        ] {
            #expect(world.refusal(statement) == "42501", "\(statement)")
        }
        #expect(
            try world.fixture.value("SELECT count(*) FROM spo.service_execution WHERE id = $1::uuid", [finished]) == "1"
        )
        #expect(
            try world.fixture.value("SELECT code FROM spo.service_error WHERE reference = $1::uuid", [reference])
                == "SP_EXECUTION_FAILED")

        // A queued execution moves on, but only its outcome columns: not who ran it or with what.
        let queued = world.send(
            "POST", "/api/services/customer_count/execute", "{}", headers: ["Prefer": "respond-async"])
        let id = try #require(queued.json["execution_id"]?.stringValue)
        #expect(
            world.refusal("UPDATE spo.service_execution SET user_name = 'someone' WHERE id = $1::uuid", [id]) == "42501"
        )
        #expect(
            world.refusal("UPDATE spo.service_execution SET parameters = '{}' WHERE id = $1::uuid", [id]) == "42501")
        #expect(world.refusal("UPDATE spo.service_execution SET status = 'running' WHERE id = $1::uuid", [id]) == nil)
        #expect(
            world.refusal(
                "UPDATE spo.service_execution SET status = 'succeeded', finished_at = now() WHERE id = $1::uuid", [id])
                == nil)
        #expect(
            world.refusal("UPDATE spo.service_execution SET status = 'failed' WHERE id = $1::uuid", [id]) == "42501")
    }

    @Test func theWorkerRoleDeletesOnlyClaimsAndExpiredIdempotencyKeys() throws {
        let world = try World()
        for (key, state, expires) in [
            ("kept", "completed", "now() + interval '1 day'"), ("expired", "completed", "now() - interval '1 second'"),
            ("claim", "running", "now() + interval '1 day'"),
        ] {
            try world.fixture.database.execute(
                """
                INSERT INTO spo.idempotency_key (scope, key, fingerprint, service_name, state, execution_id,
                    http_status, response_body, expires_at)
                VALUES ('s', $1, 'f', 'customer_get', $2, gen_random_uuid(), 200, '{}', \(expires))
                """, [key, state])
        }
        #expect(try world.asRole.execute("DELETE FROM spo.idempotency_key WHERE key = 'kept'").affectedRows == 0)
        #expect(try world.asRole.execute("DELETE FROM spo.idempotency_key WHERE key = 'expired'").affectedRows == 1)
        #expect(try world.asRole.execute("DELETE FROM spo.idempotency_key WHERE key = 'claim'").affectedRows == 1)
        #expect(try world.fixture.value("SELECT string_agg(key, ',') FROM spo.idempotency_key") == "kept")
    }

    @Test func theRetentionRoleDeletesOldHistory() throws {
        let world = try World(group: "spo_retention")
        try world.fixture.reload()
        let failed = world.fixture.execute("business_failure", headers: ["authorization": "Bearer \(world.key)"])
        let execution = try #require(failed.header("X-Execution-ID"))
        #expect(world.refusal("UPDATE spo.service_execution SET status = 'failed'") == "42501")
        #expect(world.refusal("INSERT INTO spo.connection (name, conninfo) VALUES ('x', 'dbname=x')") == "42501")
        #expect(
            try world.asRole.execute(
                """
                WITH errors AS (DELETE FROM spo.service_error WHERE execution_id = $1::uuid)
                DELETE FROM spo.service_execution WHERE id = $1::uuid
                """, [execution]
            ).affectedRows == 1)
        #expect(
            try world.fixture.value("SELECT count(*) FROM spo.service_execution WHERE id = $1::uuid", [execution])
                == "0")
    }

    @Test func aRoleOfTheWorkerGroupStartsOnAMigratedSchemaButCannotMigrate() throws {
        let world = try World()
        #expect(try Migrator().migrate(world.asRole) == [])
        let empty = try TestCluster.emptyDatabase()
        let role = try #require(try PGConninfo(parsing: world.roleConninfo)["user"])
        #expect(throws: PGError.self) { try Migrator().migrate(PGConnection(conninfo: empty + " user=\(role)")) }
    }
}
