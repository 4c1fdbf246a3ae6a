import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// The saga read API (`GET /api/sagas`, `GET /api/sagas/{id}`) over saga rows written straight
/// into the migration-12 tables, as the saga engine writes them.
@Suite struct SagaAPITests {
    typealias Admin = AdminAPITests.Admin

    /// Writes a saga as the engine would: the saga row, its steps, their compensations and its
    /// events (in that order, so event ids follow the timeline). Returns its id.
    @discardableResult
    static func insertSaga(
        _ fixture: Fixture, service: String = "order_saga", state: SagaState = .completed, ownerKey: String? = nil,
        steps: [(name: String, state: String, compensation: String?)] = [("reserve", "done", nil)]
    ) throws -> String {
        let id = RandomID.uuid()
        try fixture.database.execute(
            """
            INSERT INTO spo.saga (id, service_name, state, last_step, input, error, owner_key, correlation_id, deadline,
                                  started_at, updated_at, finished_at)
            VALUES ($1::uuid, $2, $3, $4, '{"p_customer": 7, "p_total": 12345678901234567890.5}',
                    CASE WHEN $3 = 'completed' THEN NULL ELSE '{"code": "SP_EXECUTION_FAILED", "step": "charge"}'::jsonb END,
                    $5, 'corr-' || $1::text, now() + interval '1 minute', now() - interval '2 s', now(), now())
            """, [id, service, state.rawValue, steps.last?.name, ownerKey])
        try fixture.database.execute(
            "INSERT INTO spo.saga_event (saga_id, event, detail) VALUES ($1, 'saga_started', '{\"steps\": 3}')", [id])
        for (position, step) in steps.enumerated() {
            try fixture.database.execute(
                """
                INSERT INTO spo.saga_step (saga_id, position, name, service_name, state, execution_id, input, output,
                                           error, started_at, finished_at)
                VALUES ($1, $2::int, $3, $3 || '_service', $4, $5, jsonb_build_object('p_step', $2::int),
                        CASE WHEN $4 = 'done' THEN jsonb_build_array(jsonb_build_object('id', $2::int * 10)) END,
                        CASE WHEN $4 = 'failed' THEN '{"code": "SP_EXECUTION_FAILED", "message": "no stock"}'::jsonb END,
                        now() - interval '1 s' + make_interval(secs => $2::int * 0.1),
                        now() - interval '1 s' + make_interval(secs => $2::int * 0.1 + 0.05))
                """, [id, String(position), step.name, step.state, RandomID.uuid()])
            try fixture.database.execute(
                "INSERT INTO spo.saga_event (saga_id, step, event) VALUES ($1, $2, $3)",
                [id, step.name, step.state == "failed" ? "step_failed" : "step_done"])
        }
        for (position, step) in steps.enumerated() {
            guard let state = step.compensation else { continue }
            try fixture.database.execute(
                """
                INSERT INTO spo.saga_compensation (saga_id, position, service_name, state, attempts, execution_id, input,
                                                   error, finished_at)
                VALUES ($1, $2::int, $3 || '_undo', $4, 2, $5, jsonb_build_object('p_id', $2::int * 10),
                        CASE WHEN $4 = 'failed' THEN '{"code": "DB_CONNECTION_FAILED"}'::jsonb END, now())
                """, [id, String(position), step.name, state, RandomID.uuid()])
            try fixture.database.execute(
                "INSERT INTO spo.saga_event (saga_id, step, event) VALUES ($1, $2, $3)",
                [id, step.name, state == "failed" ? "compensation_failed" : "compensation_done"])
        }
        return id
    }

    @Test func aSagaReadsBackWithItsStepsTheirCompensationsAndItsEventsInOrder() throws {
        let admin = try Admin()
        let id = try Self.insertSaga(
            admin.fixture, state: .compensationFailed,
            steps: [("reserve", "done", "done"), ("charge", "done", "failed"), ("ship", "failed", nil)])

        let reply = admin.get("/api/sagas/\(id)")
        #expect(reply.status == 200, "\(reply.text)")
        let saga = reply.json
        #expect(saga["id"] == .string(id))
        #expect(saga["service"] == .string("order_saga"))
        #expect(saga["state"] == .string("compensation_failed"))
        #expect(saga["last_step"] == .string("ship"))
        #expect(saga["error"]?["step"] == .string("charge"))
        #expect(saga["correlation_id"] == .string("corr-\(id)"))
        // The input keeps every digit: PostgreSQL wrote the JSON.
        #expect(reply.text.contains("12345678901234567890.5"))
        for field in ["started_at", "updated_at", "finished_at", "deadline"] {
            #expect(saga[field]?.stringValue != nil, "\(field)")
        }

        let steps = try #require(saga["steps"]?.arrayValue)
        #expect(steps.map { $0["name"]?.stringValue } == ["reserve", "charge", "ship"])
        #expect(steps.map { $0["position"] } == [.number(0), .number(1), .number(2)])
        #expect(steps.map { $0["state"]?.stringValue } == ["done", "done", "failed"])
        #expect(steps[0]["service"] == .string("reserve_service"))
        #expect(steps[1]["input"]?["p_step"] == .number(1))
        #expect(steps[1]["output"]?.arrayValue?.first?["id"] == .number(10))
        #expect(steps[2]["output"] == .null)
        #expect(steps[2]["error"]?["message"] == .string("no stock"))
        #expect(steps.allSatisfy { isLowercaseUUID($0["execution_id"]?.stringValue) })
        #expect(steps[0]["compensation"]?["state"] == .string("done"))
        #expect(steps[1]["compensation"]?["state"] == .string("failed"))
        #expect(steps[1]["compensation"]?["service"] == .string("charge_undo"))
        #expect(steps[1]["compensation"]?["attempts"] == .number(2))
        #expect(steps[1]["compensation"]?["input"]?["p_id"] == .number(10))
        #expect(steps[1]["compensation"]?["error"]?["code"] == .string("DB_CONNECTION_FAILED"))
        #expect(steps[2]["compensation"] == .null)

        let events = try #require(saga["events"]?.arrayValue)
        #expect(
            events.map { $0["event"]?.stringValue } == [
                "saga_started", "step_done", "step_done", "step_failed", "compensation_done", "compensation_failed",
            ])
        #expect(events.map { $0["step"]?.stringValue } == [nil, "reserve", "charge", "ship", "reserve", "charge"])
        #expect(events[0]["detail"]?["steps"] == .number(3))
        let ids = events.compactMap { $0["id"]?.intValue }
        #expect(ids == ids.sorted() && Set(ids).count == events.count)
    }

    @Test func anUnknownOrMalformedSagaIsNotFound() throws {
        let admin = try Admin()
        try admin.fixture.expectError(admin.get("/api/sagas/\(RandomID.uuid())"), "NOT_FOUND", status: 404)
        try admin.fixture.expectError(admin.get("/api/sagas/not-a-uuid"), "NOT_FOUND", status: 404)
    }

    @Test func onlyTheKeyThatStartedASagaAndAdminKeysReadIt() throws {
        let admin = try Admin()
        let fixture = admin.fixture
        let starter = try APIKeyStore.create(name: "shop", role: .executor, grants: ["*"], on: fixture.database)
        let other = try APIKeyStore.create(name: "other", role: .executor, grants: ["*"], on: fixture.database)
        try fixture.reload()
        let id = try Self.insertSaga(fixture, ownerKey: APIKey.prefix(of: starter))
        let anonymous = try Self.insertSaga(fixture, ownerKey: nil)

        #expect(admin.get("/api/sagas/\(id)", key: starter).status == 200)
        #expect(admin.get("/api/sagas/\(id)").status == 200)
        try fixture.expectError(admin.get("/api/sagas/\(id)", key: other), "NOT_FOUND", status: 404)
        // Started anonymously (a public service): no key's.
        try fixture.expectError(admin.get("/api/sagas/\(anonymous)", key: starter), "NOT_FOUND", status: 404)
        #expect(admin.get("/api/sagas/\(anonymous)").status == 200)
        // The listing is administration's.
        try fixture.expectError(admin.get("/api/sagas", key: starter), "FORBIDDEN", status: 403)
        try fixture.expectError(admin.get("/api/sagas/\(id)", key: ""), "UNAUTHORIZED", status: 401)
    }

    /// Reading a saga back needs a key, like reading an execution back: one started by an
    /// anonymous call to a public service is no anonymous caller's to read.
    @Test func anonymousCallersReadNoSaga() throws {
        let fixture = try Fixture()
        let id = try Self.insertSaga(fixture, ownerKey: nil)
        let owned = try Self.insertSaga(fixture, ownerKey: "1a2b3c4d")
        for saga in [id, owned] {
            try fixture.expectError(
                fixture.send(HTTPRequest(method: "GET", path: "/api/sagas/\(saga)"), anonymous: true), "UNAUTHORIZED",
                status: 401)
        }
    }

    @Test func sagasPageNewestFirstByStateAndServiceWithoutSkippingOrRepeating() throws {
        let admin = try Admin()
        let fixture = admin.fixture
        var made: [(id: String, service: String, state: SagaState)] = []
        for index in 0..<9 {
            let service = index % 3 == 0 ? "enrolment" : "order_saga"
            let state: SagaState = index % 2 == 0 ? .compensated : .completed
            made.append((try Self.insertSaga(fixture, service: service, state: state), service, state))
        }
        func walk(_ filters: String, limit: Int) throws -> [String] {
            var ids: [String] = []
            var cursor: String?
            repeat {
                let query = ([filters, "limit=\(limit)"] + (cursor.map { ["cursor=\($0)"] } ?? []))
                    .filter { !$0.isEmpty }.joined(separator: "&")
                let reply = admin.get("/api/sagas", query)
                #expect(reply.status == 200, "\(query): \(reply.text)")
                let items = try #require(reply.json["items"]?.arrayValue)
                #expect(items.count <= limit)
                for item in items {
                    #expect(
                        Set(item.members?.map(\.key) ?? []) == [
                            "id", "service", "state", "last_step", "started_at", "updated_at", "finished_at", "error",
                        ])
                }
                ids += items.compactMap { $0["id"]?.stringValue }
                cursor = reply.json["next_cursor"]?.stringValue
                if let cursor { #expect(cursor == ids.last) }
                // A saga started between two pages is newer than the cursor: never on a later page.
                try Self.insertSaga(fixture, service: "order_saga", state: .compensated)
            } while cursor != nil
            return ids
        }
        let newestFirst = made.reversed()
        #expect(try walk("", limit: 4).suffix(9) == newestFirst.map(\.id)[...])
        #expect(
            try walk("state=compensated", limit: 2).suffix(5)
                == newestFirst.filter { $0.state == .compensated }
                .map(\.id)[...])
        #expect(try walk("service=enrolment", limit: 2) == newestFirst.filter { $0.service == "enrolment" }.map(\.id))
        #expect(
            try walk("service=enrolment&state=completed", limit: 1)
                == newestFirst.filter { $0.service == "enrolment" && $0.state == .completed }.map(\.id))
        let none = admin.get("/api/sagas", "state=compensating")
        #expect(none.status == 200)
        #expect(none.json["items"] == .array([]) && none.json["next_cursor"] == .null)
    }

    @Test func badListingParametersAnswer400NamingEachAndReadNothing() throws {
        let admin = try Admin()
        let reply = admin.get("/api/sagas", "state=done&limit=0&cursor=yesterday&status=failed")
        let error = try admin.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
        let named = error["details"]?.arrayValue?.compactMap { $0["parameter"]?.stringValue } ?? []
        #expect(named.sorted() == ["cursor", "limit", "state", "status"])
        let problems = error["details"]?.arrayValue?.compactMap { $0["problem"]?.stringValue } ?? []
        #expect(problems.contains { $0.contains("compensation_failed") }, "the states are listed: \(problems)")
        for limit in ["501", "ten", "-1"] {
            try admin.fixture.expectError(admin.get("/api/sagas", "limit=\(limit)"), "INVALID_PARAMETERS", status: 400)
        }
        #expect(admin.get("/api/sagas", "limit=500").status == 200)
    }
}
