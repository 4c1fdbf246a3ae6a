import Foundation
import SPOJSON
import SPOPostgres
import Synchronization
import Testing

@testable import SPOCore
@testable import SPOServer

/// The read-only administration endpoints (SPEC §4): configuration, executions, errors and the
/// health of the target connections, for admin keys only.
@Suite struct AdminAPITests {
    /// A fixture whose handler knows an admin key (so every call needs a key from now on).
    struct Admin {
        let fixture: Fixture
        let key: String
        static let keyName = "ops-admin"

        init() throws {
            fixture = try Fixture()
            key = try APIKeyStore.create(name: Admin.keyName, role: .admin, grants: [], on: fixture.database)
            try fixture.reload()
        }

        var authorization: [String: String] { ["authorization": "Bearer \(key)"] }

        /// `GET path?query` with the admin key (or with `key`, or none when `key` is "").
        func get(_ path: String, _ query: String = "", key: String? = nil) -> Reply {
            let presented = key ?? self.key
            let headers = presented.isEmpty ? [:] : ["authorization": "Bearer \(presented)"]
            return fixture.send(
                HTTPRequest(method: "GET", path: path, query: query, headers: HTTPHeaders(headers)),
                anonymous: presented.isEmpty)
        }

        /// Executes a service with the admin key.
        @discardableResult
        func execute(_ service: String, _ body: String = "{}") -> Reply {
            fixture.execute(service, body, headers: authorization)
        }

        /// The execution id of a reply, which must have one.
        func executionID(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            try #require(reply.header("X-Execution-ID"), "body: \(reply.text)", sourceLocation: sourceLocation)
        }

        /// Every execution id in the control database, newest first.
        func allExecutionIDs(_ condition: String = "true", _ parameters: [String?] = []) throws -> [String] {
            try fixture.rows(
                "SELECT id::text FROM spo.service_execution WHERE \(condition) ORDER BY id DESC", parameters
            )
            .map { $0[0] ?? "" }
        }

        /// The ids of one page of `GET /api/executions`, and its `next_cursor`.
        func page(_ query: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (
            ids: [String], next: String?
        ) {
            let reply = get("/api/executions", query)
            #expect(reply.status == 200, "\(query): \(reply.text)", sourceLocation: sourceLocation)
            #expect(
                Set(reply.json.members?.map(\.key) ?? []) == ["items", "next_cursor"], sourceLocation: sourceLocation)
            let items = try #require(reply.json["items"]?.arrayValue, "\(reply.text)", sourceLocation: sourceLocation)
            let next = try #require(reply.json["next_cursor"], sourceLocation: sourceLocation)
            return (items.map { $0["id"]?.stringValue ?? "" }, next.stringValue)
        }

        /// Every id a walk of pages of `limit` returns, following `next_cursor` to the end.
        func walk(_ filters: String = "", limit: Int, betweenPages: () -> Void = {}) throws -> (
            ids: [String], pages: Int
        ) {
            var ids: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let query = [filters, "limit=\(limit)", cursor.map { "cursor=\($0)" }].compactMap { $0 }
                    .filter { !$0.isEmpty }.joined(separator: "&")
                let (found, next) = try page(query)
                pages += 1
                #expect(found.count <= limit)
                if next != nil { #expect(found.count == limit, "a page with a next_cursor is full") }
                if let next { #expect(next == found.last, "next_cursor is the last id of the page") }
                ids += found
                cursor = next
                betweenPages()
            } while cursor != nil && pages < 1000
            return (ids, pages)
        }
    }

    /// The problems named by an INVALID_PARAMETERS error.
    private func named(_ error: JSONValue) -> [String] {
        (error["details"]?.arrayValue ?? []).compactMap { $0["parameter"]?.stringValue }
    }

    private func keys(_ value: JSONValue?) -> Set<String> { Set(value?.members?.map(\.key) ?? []) }

    private func names(_ reply: Reply) -> [String] {
        (reply.json["items"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    /// One path per endpoint family.
    static let everyEndpoint = [
        "/api/services", "/api/services/customer_get", "/api/connections", "/api/connections/demo",
        "/api/retry-policies", "/api/retry-policies/default", "/api/executions",
        "/api/errors/00000000-0000-4000-8000-000000000000",
        "/api/health/services",
    ]

    // MARK: - Who may ask

    @Test func administrationNeedsAnAdminKey() throws {
        let admin = try Admin()
        let executorKey = try APIKeyStore.create(
            name: "reporting", role: .executor, grants: ["*"], on: admin.fixture.database)
        try admin.fixture.reload()
        // Every refusal here must get its row: more than the default budget of rows for callers
        // without a valid key (whose cap ErrorRowBudgetTests and test_authz.py check).
        admin.fixture.handler.unauthenticatedErrorRows = ErrorRowBudget(perSecond: 1000)
        for path in Self.everyEndpoint {
            let anonymous = admin.get(path, key: "")
            try admin.fixture.expectError(anonymous, "UNAUTHORIZED", status: 401)
            #expect(anonymous.header("WWW-Authenticate") == "Bearer")
            try admin.fixture.expectError(
                admin.get(path, key: "spo_00000000_" + String(repeating: "0", count: 32)),
                "UNAUTHORIZED", status: 401)
            let executor = admin.get(path, key: executorKey)
            let error = try admin.fixture.expectError(executor, "FORBIDDEN", status: 403)
            #expect(error["message"]?.stringValue?.contains("reporting") == true)
            let allowed = admin.get(path)
            #expect([200, 404].contains(allowed.status), "\(path): \(allowed.text)")
        }
        // The executor key still executes: administration is what it lacks, not everything.
        #expect(
            admin.fixture.execute("customer_count", headers: ["authorization": "Bearer \(executorKey)"]).status == 200)
    }

    /// Before any admin key exists administration is closed all the same: to anonymous callers
    /// and to the executor key that may execute everything (and anonymous callers execute nothing
    /// that is not public).
    @Test func administrationIsClosedEvenWhileNoKeyExists() throws {
        let fixture = try Fixture()
        #expect(try fixture.value("SELECT count(*) FROM spo.api_key WHERE role = 'admin'") == "0")
        // Each anonymous refusal must get its row, beyond the default budget for keyless callers.
        fixture.handler.unauthenticatedErrorRows = ErrorRowBudget(perSecond: 1000)
        #expect(fixture.execute("customer_get", #"{"p_id": 1}"#).status == 200)
        try fixture.expectError(
            fixture.execute("customer_get", #"{"p_id": 1}"#, anonymous: true), "UNAUTHORIZED", status: 401)
        for path in Self.everyEndpoint {
            try fixture.expectError(
                fixture.send(HTTPRequest(method: "GET", path: path), anonymous: true), "UNAUTHORIZED", status: 401)
            try fixture.expectError(fixture.send(HTTPRequest(method: "GET", path: path)), "FORBIDDEN", status: 403)
        }
    }

    @Test func unsupportedMethodsOnAnEntryAreRefused() throws {
        let admin = try Admin()
        for method in ["POST", "PATCH"] {
            let reply = admin.fixture.send(
                HTTPRequest(
                    method: method, path: "/api/services/customer_get", headers: HTTPHeaders(admin.authorization)))
            try admin.fixture.expectError(reply, "METHOD_NOT_ALLOWED", status: 405)
            #expect(reply.header("Allow") == "GET, HEAD, PUT, DELETE")
        }
        #expect(try admin.fixture.value("SELECT count(*) FROM spo.service") == "10")
    }

    // MARK: - Configuration

    @Test func servicesAreListedAsServiceDocuments() throws {
        let admin = try Admin()
        let reply = admin.get("/api/services")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.header("Content-Type") == "application/json")
        #expect(keys(reply.json) == ["items"])
        let expected = admin.fixture.handler.configuration.services.keys.sorted()
        #expect(names(reply) == expected)
        #expect(expected.count == 10)
        for item in reply.json["items"]?.arrayValue ?? [] {
            #expect(
                keys(item) == [
                    "id", "name", "description", "kind", "connection", "procedure", "parameters", "timeout_ms",
                    "retry_policy", "enabled", "public", "idempotent", "idempotency", "idempotency_ttl_s",
                    "result_shape", "version",
                ], "\(item.serialized())")
        }

        let one = admin.get("/api/services/customer_get")
        #expect(one.status == 200, "\(one.text)")
        #expect(one.json == reply.json["items"]?.arrayValue?.first { $0["name"] == .string("customer_get") })
        let id = try admin.fixture.value("SELECT id::text FROM spo.service WHERE name = 'customer_get'")
        #expect(one.json["id"] == .number(try #require(id)))
        #expect(one.json["version"] == .number(1))
        #expect(one.json["kind"] == .string("procedure"))
        #expect(one.json["connection"] == .string("demo"))
        #expect(one.json["procedure"] == .string("demo.get_customer"))
        #expect(one.json["result_shape"] == .string("set"))
        #expect(one.json["timeout_ms"] == .number(5000))
        #expect(one.json["retry_policy"] == .string("default"))
        #expect(one.json["enabled"] == .bool(true))
        #expect(one.json["public"] == .bool(false))
        let parameter = try #require(one.json["parameters"]?.arrayValue?.first)
        #expect(parameter["name"] == .string("p_id"))
        #expect(parameter["type"] == .string("integer"))
        #expect(parameter["required"] == .bool(true))
        #expect(parameter["minimum"]?.intValue == 1)

        #expect(admin.get("/api/services/transfer").json["result_shape"] == .string("procedure"))
        #expect(admin.get("/api/services/note_add").json["result_shape"] == .string("void"))
        #expect(admin.get("/api/services/customer_count").json["result_shape"] == .string("scalar"))

        // A change shows with the next snapshot, version and all.
        try admin.fixture.database.execute("UPDATE spo.service SET timeout_ms = 777 WHERE name = 'customer_get'")
        try admin.fixture.reload()
        let changed = admin.get("/api/services/customer_get")
        #expect(changed.json["timeout_ms"] == .number(777))
        #expect(changed.json["version"] == .number(2))

        let missing = try admin.fixture.expectError(
            admin.get("/api/services/no_such_service"), "SERVICE_NOT_FOUND", status: 404)
        #expect(missing["message"]?.stringValue?.contains("no_such_service") == true)
    }

    @Test func servicesAreFilteredBySearchAndEnabled() throws {
        let admin = try Admin()
        // Name or description, case-insensitively.
        #expect(
            names(admin.get("/api/services", "search=Customer"))
                == ["customer_count", "customer_get", "customer_search", "note_add", "transfer"])
        #expect(
            names(admin.get("/api/services", "search=customer_")) == [
                "customer_count", "customer_get", "customer_search",
            ])
        #expect(names(admin.get("/api/services", "search=serialization+failure")) == ["flaky"])
        #expect(names(admin.get("/api/services", "search=SERIALIZATION%20FAILURE")) == ["flaky"])
        #expect(names(admin.get("/api/services", "search=nothing-matches-this")) == [])
        #expect(admin.get("/api/services", "search=nothing-matches-this").json == .object(["items": .array([])]))
        #expect(names(admin.get("/api/services", "search=")).count == 10, "an empty search matches everything")

        try admin.fixture.database.execute("UPDATE spo.service SET enabled = false WHERE name IN ('slow', 'flaky')")
        try admin.fixture.reload()
        #expect(names(admin.get("/api/services", "enabled=false")) == ["flaky", "slow"])
        let enabled = names(admin.get("/api/services", "enabled=true"))
        #expect(enabled.count == 8)
        #expect(!enabled.contains("slow") && !enabled.contains("flaky"))
        #expect(names(admin.get("/api/services")).count == 10, "no filter lists disabled services too")
        #expect(names(admin.get("/api/services", "search=sleeps&enabled=false")) == ["slow"])
        #expect(names(admin.get("/api/services", "search=sleeps&enabled=true")) == [])
        // A disabled service is still readable by administrators (it only stops executing).
        let slow = admin.get("/api/services/slow")
        #expect(slow.status == 200)
        #expect(slow.json["enabled"] == .bool(false))

        for bad in ["enabled=yes", "enabled=", "enabled=TRUE", "enabled=1"] {
            let error = try admin.fixture.expectError(
                admin.get("/api/services", bad), "INVALID_PARAMETERS", status: 400)
            #expect(named(error) == ["enabled"], "\(bad)")
        }
    }

    @Test func connectionsNeverShowASecret() throws {
        let admin = try Admin()
        let secret = "s3cr3t-" + UUID().uuidString
        let variable =
            "SPO_SECRET_ADMIN_TEST_" + String(UUID().uuidString.prefix(8)).replacingOccurrences(of: "-", with: "")
        setenv(variable, secret, 1)
        defer { unsetenv(variable) }
        try admin.fixture.database.execute(
            "INSERT INTO spo.connection (name, conninfo, password_from, description) VALUES ($1, $2, $3, $4)",
            ["vault", "host=/nonexistent-spo-dir port=1 dbname=x user=y", "env:\(variable)", "Needs a password"])
        try admin.fixture.reload()

        let reply = admin.get("/api/connections")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(names(reply) == ["demo", "vault"])
        for item in reply.json["items"]?.arrayValue ?? [] {
            #expect(keys(item) == ["name", "conninfo", "password_from", "description", "breaker", "breaker_state"])
        }
        #expect(!reply.text.contains(secret))
        #expect(!reply.text.lowercased().contains("password="))
        let demo = admin.get("/api/connections/demo")
        #expect(demo.json["name"] == .string("demo"))
        #expect(demo.json["conninfo"] == .string(admin.fixture.conninfo))
        #expect(demo.json["password_from"] == .null)
        let vault = admin.get("/api/connections/vault")
        #expect(vault.json["password_from"] == .string("env:\(variable)"))
        #expect(vault.json["description"] == .string("Needs a password"))
        #expect(!vault.text.contains(secret))
        // Nor does the health check, which does use the secret.
        let health = admin.get("/api/health/services")
        #expect(!health.text.contains(secret))

        try admin.fixture.expectError(admin.get("/api/connections/nope"), "NOT_FOUND", status: 404)
    }

    @Test func retryPoliciesAreListed() throws {
        let admin = try Admin()
        let reply = admin.get("/api/retry-policies")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(names(reply) == ["default", "none"])
        let policy = admin.get("/api/retry-policies/default")
        #expect(policy.status == 200)
        #expect(
            keys(policy.json) == [
                "name", "max_attempts", "initial_backoff_ms", "multiplier", "max_backoff_ms", "jitter",
                "retryable_sqlstates",
            ])
        #expect(policy.json["max_attempts"] == .number(3))
        #expect(policy.json["initial_backoff_ms"] == .number(20))
        #expect(policy.json["retryable_sqlstates"]?.arrayValue?.contains(.string("40001")) == true)
        #expect(policy.json == reply.json["items"]?.arrayValue?.first)
        #expect(admin.get("/api/retry-policies/none").json["max_attempts"] == .number(1))
        try admin.fixture.expectError(admin.get("/api/retry-policies/nope"), "NOT_FOUND", status: 404)
    }

    @Test func healthOfServicesReportsEachConnection() throws {
        let admin = try Admin()
        try admin.fixture.database.execute(
            "INSERT INTO spo.connection (name, conninfo) VALUES ('gone', 'host=/nonexistent-spo-dir port=1 dbname=x')")
        try admin.fixture.reload()
        let reply = admin.get("/api/health/services")
        #expect(reply.status == 200, "\(reply.text)")
        let items = try #require(reply.json["items"]?.arrayValue)
        #expect(items.map { $0["connection"]?.stringValue } == ["demo", "gone"])
        let demo = items[0]
        #expect(keys(demo) == ["connection", "reachable", "latency_ms", "breaker_state"])
        #expect(demo["reachable"] == .bool(true))
        let latency = try #require(demo["latency_ms"]?.doubleValue)
        #expect(latency >= 0 && latency < 2000)
        let gone = items[1]
        #expect(keys(gone) == ["connection", "reachable", "error", "breaker_state"])
        #expect(gone["reachable"] == .bool(false))
        #expect(gone["error"]?.stringValue?.isEmpty == false)
        // Asked again: the reachable one is reused, the broken one tried afresh.
        let again = admin.get("/api/health/services").json["items"]?.arrayValue
        #expect(again?.map { $0["reachable"] } == [.bool(true), .bool(false)])
    }

    // MARK: - Executions

    @Test func executionsAreListedNewestFirst() throws {
        let admin = try Admin()
        // Ids order executions by their millisecond (within one they are random): a pause between.
        let replies = [
            (service: "customer_get", body: #"{"p_id": 7}"#), ("customer_count", "{}"), ("business_failure", "{}"),
            ("customer_get", #"{"p_id": 0}"#),
        ].map { call in
            defer { usleep(2_000) }
            return admin.execute(call.service, call.body)
        }
        let ids = try replies.map { try admin.executionID($0) }
        let reply = admin.get("/api/executions")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["next_cursor"] == .null)
        let items = try #require(reply.json["items"]?.arrayValue)
        #expect(items.compactMap { $0["id"]?.stringValue } == ids.reversed())
        for item in items {
            #expect(
                keys(item) == [
                    "id", "service", "status", "http_status", "error_code", "attempts", "duration_ms", "user",
                    "correlation_id", "reprocess_of", "started_at", "finished_at",
                ], "\(item.serialized())")
            #expect(item["user"] == .string(Admin.keyName))
            #expect(item["reprocess_of"] == .null)
            #expect(item["started_at"]?.stringValue != nil && item["finished_at"]?.stringValue != nil)
        }
        let newest = items[0]
        #expect(newest["service"] == .string("customer_get"))
        #expect(newest["status"] == .string("rejected"))
        #expect(newest["http_status"] == .number(400))
        #expect(newest["error_code"] == .string("INVALID_PARAMETERS"))
        #expect(newest["correlation_id"]?.stringValue == replies[3].header("X-Correlation-ID"))
        #expect(items[1]["status"] == .string("failed"))
        #expect(items[1]["error_code"] == .string("SP_EXECUTION_FAILED"))
        let oldest = items[3]
        #expect(oldest["status"] == .string("succeeded"))
        #expect(oldest["http_status"] == .number(200))
        #expect(oldest["error_code"] == .null)
        #expect(oldest["attempts"] == .number(1))
        #expect((oldest["duration_ms"]?.doubleValue ?? -1) >= 0)
    }

    @Test func executionsAreFilteredByServiceAndStatus() throws {
        let admin = try Admin()
        for id in 1...3 { admin.execute("customer_get", #"{"p_id": \#(id)}"#) }
        admin.execute("customer_count")
        admin.execute("business_failure")
        admin.execute("business_failure", #"{"p_code": "E123"}"#)
        admin.execute("business_failure", #"{"p_code": "bad"}"#)
        admin.execute("slow", #"{"p_seconds": 0}"#)

        let cases: [(String, String, [String?])] = [
            ("service=customer_get", "service_name = $1", ["customer_get"]),
            ("service=business_failure", "service_name = $1", ["business_failure"]),
            ("status=succeeded", "status = $1", ["succeeded"]),
            ("status=failed", "status = $1", ["failed"]),
            ("status=rejected", "status = $1", ["rejected"]),
            ("status=timeout", "status = $1", ["timeout"]),
            (
                "service=business_failure&status=failed", "service_name = $1 AND status = $2",
                ["business_failure", "failed"]
            ),
            ("service=no_such_service", "service_name = $1", ["no_such_service"]),
        ]
        for (query, condition, parameters) in cases {
            let expected = try admin.allExecutionIDs(condition, parameters)
            #expect(try admin.page(query).ids == expected, "\(query)")
        }
        #expect(try admin.page("service=customer_get").ids.count == 3)
        #expect(try admin.page("status=failed").ids.count == 2)
        #expect(try admin.page("status=rejected").ids.count == 1)
        #expect(try admin.page("service=no_such_service").ids.isEmpty)
    }

    @Test func executionsAreFilteredByTime() throws {
        let admin = try Admin()
        var ids: [String] = []
        for round in 0..<6 {
            ids.append(try admin.executionID(admin.execute("customer_get", #"{"p_id": \#(round + 1)}"#)))
            usleep(3_000)
        }
        /// `started_at` of an execution, in UTC with every microsecond.
        func startedAt(_ id: String) throws -> String {
            try #require(
                try admin.fixture.value(
                    """
                    SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                    FROM spo.service_execution WHERE id = $1
                    """, [id]))
        }
        let since = try startedAt(ids[2])
        let until = try startedAt(ids[4])
        let expectedSince = try admin.allExecutionIDs("started_at >= $1::timestamptz", [since])
        let expectedUntil = try admin.allExecutionIDs("started_at < $1::timestamptz", [until])
        let expectedBetween = try admin.allExecutionIDs(
            "started_at >= $1::timestamptz AND started_at < $2::timestamptz", [since, until])
        #expect(expectedSince.contains(ids[2]) && !expectedSince.contains(ids[0]))
        #expect(!expectedUntil.contains(ids[4]) && expectedUntil.contains(ids[0]))

        #expect(try admin.page("since=\(since)").ids == expectedSince)
        #expect(try admin.page("until=\(until)").ids == expectedUntil)
        #expect(try admin.page("since=\(since)&until=\(until)").ids == expectedBetween)
        #expect(try admin.page("since=\(until)&until=\(since)").ids.isEmpty)
        // Other zones and forms of the same instant (a `+` must be sent as %2B in a query string).
        let local = try #require(
            try admin.fixture.value(
                "SELECT to_char(($1::timestamptz) AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+05:30\"')",
                [since]))
        #expect(try admin.page("since=" + local.replacingOccurrences(of: "+", with: "%2B")).ids == expectedSince)
        #expect(try admin.page("since=2000-01-01").ids == (try admin.allExecutionIDs()))
        #expect(try admin.page("until=2000-01-01T00:00Z").ids.isEmpty)
    }

    @Test func executionsArePagedByCursor() throws {
        let admin = try Admin()
        for id in 1...12 { admin.execute("customer_get", #"{"p_id": \#(id)}"#) }
        admin.execute("customer_count")
        let all = try admin.allExecutionIDs()
        #expect(all.count == 13)

        let first = try admin.page("limit=5")
        #expect(first.ids == Array(all[0..<5]))
        #expect(first.next == all[4])
        let second = try admin.page("limit=5&cursor=\(try #require(first.next))")
        #expect(second.ids == Array(all[5..<10]))
        let third = try admin.page("limit=5&cursor=\(try #require(second.next))")
        #expect(third.ids == Array(all[10...]))
        #expect(third.next == nil)

        for limit in [1, 4, 12, 13, 14, 500] {
            let walked = try admin.walk(limit: limit)
            #expect(walked.ids == all, "limit \(limit)")
            #expect(walked.pages == max(1, (all.count + limit - 1) / limit), "limit \(limit)")
        }
        // Exactly a page's worth: no empty page after it.
        let exact = try admin.page("limit=13")
        #expect(exact.ids == all && exact.next == nil)
        // Filters and cursor together.
        let filtered = try admin.walk("service=customer_get", limit: 5)
        #expect(filtered.ids == (try admin.allExecutionIDs("service_name = 'customer_get'")))
        #expect(filtered.pages == 3)
        // A cursor past the oldest row, or one that is no row at all, still pages by id.
        #expect(try admin.page("cursor=\(try #require(all.last))").ids.isEmpty)
        #expect(try admin.page("cursor=ffffffff-ffff-7fff-bfff-ffffffffffff").ids == all)
        #expect(try admin.page("cursor=00000000-0000-7000-8000-000000000000").ids.isEmpty)
        #expect(try admin.page("cursor=\(all[6].uppercased())").ids == Array(all[7...]))
    }

    @Test func theLimitDefaultsTo50AndStopsAt500() throws {
        let admin = try Admin()
        // Many rows cheaply: written as the audit would, ids time-ordered.
        try admin.fixture.database.execute(
            """
            INSERT INTO spo.service_execution (id, service_name, status, started_at)
            SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'bulk', 'succeeded',
                   now() - make_interval(secs => 1000 - n)
            FROM generate_series(1, 520) AS n
            """)
        let all = try admin.allExecutionIDs()
        let defaulted = try admin.page("")
        #expect(defaulted.ids == Array(all[0..<50]))
        #expect(defaulted.next == all[49])
        let most = try admin.page("limit=500")
        #expect(most.ids == Array(all[0..<500]))
        #expect(try admin.page("limit=500&cursor=\(try #require(most.next))").ids == Array(all[500...]))
        #expect(try admin.walk("service=bulk", limit: 500).ids == all)
    }

    /// Pages neither skip nor repeat a row while new executions keep arriving: ids are
    /// time-ordered and a page holds the rows older than the cursor.
    @Test func pagingIsStableWhileExecutionsArrive() throws {
        let admin = try Admin()
        for index in 0..<30 {
            if index % 10 == 9 {
                admin.execute("business_failure")
            } else {
                admin.execute("customer_get", #"{"p_id": \#(index + 1)}"#)
            }
        }
        #expect(try admin.allExecutionIDs().count == 30)

        let background = Background()
        let running = DispatchGroup()
        let conninfo = admin.fixture.conninfo
        let key = admin.key
        running.enter()
        let thread = Thread {
            defer { running.leave() }
            // A worker of its own: a handler serves one request at a time.
            do {
                let handler = RequestHandler(
                    configuration: try ConfigurationStore.load(from: try PGConnection(conninfo: conninfo)),
                    control: ControlDatabase(conninfo: conninfo))
                var n = 0
                while !background.stopped {
                    n += 1
                    let response = handler.handle(
                        HTTPRequest(
                            method: "POST", path: "/api/services/customer_get/execute",
                            headers: ["authorization": "Bearer \(key)", "content-type": "application/json"],
                            body: Array(#"{"p_id": \#(n % 1000 + 1)}"#.utf8)))
                    background.executed(status: response.status)
                }
            } catch {
                background.failed("\(error)")
            }
        }
        thread.start()
        defer {
            background.stop()
            running.wait()
        }
        #expect(eventually(within: 5) { background.count > 0 }, "the background worker never executed")

        let before = try admin.allExecutionIDs()
        let countAtStart = background.count
        let walked = try admin.walk(limit: 7) {
            // Let new executions arrive between every two pages.
            let seen = background.count
            _ = eventually(within: 2) { background.count >= seen + 2 }
        }
        background.stop()
        running.wait()
        #expect(background.failures.isEmpty, "\(background.failures)")
        let during = background.count - countAtStart
        #expect(during >= walked.pages, "only \(during) executions during a walk of \(walked.pages) pages")
        #expect(walked.pages >= 5)

        #expect(Set(walked.ids).count == walked.ids.count, "a row was repeated")
        #expect(zip(walked.ids, walked.ids.dropFirst()).allSatisfy { $0 > $1 }, "ids are not strictly descending")
        let counts = Dictionary(walked.ids.map { ($0, 1) }, uniquingKeysWith: +)
        let missing = before.filter { counts[$0] != 1 }
        #expect(missing.isEmpty, "\(missing.count) of \(before.count) rows were skipped")
        #expect(walked.ids.filter(Set(before).contains) == before)
        #expect(try admin.allExecutionIDs().count > before.count, "no execution arrived during the walk")
    }

    /// An execution is read back by admin keys, or by the caller that queued it asynchronously
    /// (`AsyncQueueTests`): another key gets 404 for a synchronous one, as if it did not exist.
    @Test func anExecutionIsNotAnotherCallersToRead() throws {
        let admin = try Admin()
        let executorKey = try APIKeyStore.create(
            name: "reporting", role: .executor, grants: ["*"], on: admin.fixture.database)
        try admin.fixture.reload()
        let id = try admin.executionID(admin.execute("customer_count", "{}"))
        try admin.fixture.expectError(admin.get("/api/executions/\(id)", key: ""), "UNAUTHORIZED", status: 401)
        try admin.fixture.expectError(admin.get("/api/executions/\(id)", key: executorKey), "NOT_FOUND", status: 404)
        #expect(admin.get("/api/executions/\(id)").status == 200)
    }

    // MARK: - One execution

    @Test func aRetriedExecutionShowsEachAttempt() throws {
        let admin = try Admin()
        let key = freshKey()
        let reply = admin.execute("flaky", #"{"p_key": "\#(key)", "p_failures": 2}"#)
        #expect(reply.status == 200, "\(reply.text)")
        let id = try admin.executionID(reply)
        let detail = admin.get("/api/executions/\(id)")
        #expect(detail.status == 200, "\(detail.text)")
        #expect(
            keys(detail.json) == [
                "id", "service", "status", "http_status", "error_code", "attempts", "duration_ms", "user",
                "correlation_id", "idempotency_key", "parameters", "reprocess_of", "started_at", "finished_at",
                "attempt_log", "errors", "reprocessed_as", "reprocessing_of", "data", "parent_execution_id", "member",
                "members",
            ])
        #expect(detail.json["id"] == .string(id))
        #expect(detail.json["service"] == .string("flaky"))
        #expect(detail.json["status"] == .string("succeeded"))
        #expect(detail.json["attempts"] == .number(3))
        #expect(detail.json["user"] == .string(Admin.keyName))
        #expect(detail.json["parameters"]?["p_key"] == .string(key))
        #expect(detail.json["parameters"]?["p_failures"] == .number(2))
        #expect(detail.json["errors"] == .array([]))
        #expect(detail.json["reprocessed_as"] == .array([]))
        #expect(detail.json["reprocessing_of"] == .null)
        let log = try #require(detail.json["attempt_log"]?.arrayValue)
        #expect(log.count == 3)
        #expect(log.map { $0["attempt"] } == [.number(1), .number(2), .number(3)])
        #expect(log.map { $0["outcome"] } == [.string("failed"), .string("failed"), .string("succeeded")])
        #expect(log.map { $0["sqlstate"] } == [.string("40001"), .string("40001"), .null])
        for row in log {
            #expect(
                keys(row) == [
                    "execution_id", "attempt", "outcome", "sqlstate", "message", "queue_ms", "connect_ms",
                    "execute_ms", "worker_pid", "started_at",
                ])
            #expect(row["execution_id"] == .string(id))
            #expect(row["worker_pid"] == .number(Int(getpid())))
        }
        // The attempts as the service_log view has them, row for row.
        let viewRows = try admin.fixture.rows(
            "SELECT attempt::text, outcome, started_at::text FROM spo.service_log WHERE execution_id = $1 ORDER BY attempt",
            [id])
        #expect(viewRows.map { $0[0] } == log.map { $0["attempt"]?.intValue.map(String.init) })
        #expect(viewRows.map { $0[1] } == log.map { $0["outcome"]?.stringValue })
        // Ids in any case, as PostgreSQL reads them.
        #expect(admin.get("/api/executions/\(id.uppercased())").json["id"] == .string(id))
    }

    @Test func aFailedExecutionShowsItsErrorAndTheErrorItsExecution() throws {
        let admin = try Admin()
        let reply = admin.execute("business_failure", #"{"p_code": "E042"}"#)
        let replyError = try admin.fixture.expectError(reply, "SP_EXECUTION_FAILED", status: 422)
        let reference = try #require(replyError["reference"]?.stringValue)
        let id = try admin.executionID(reply)

        let detail = admin.get("/api/executions/\(id)")
        #expect(detail.status == 200, "\(detail.text)")
        #expect(detail.json["status"] == .string("failed"))
        #expect(detail.json["http_status"] == .number(422))
        #expect(detail.json["error_code"] == .string("SP_EXECUTION_FAILED"))
        #expect(detail.json["attempts"] == .number(1))
        let errors = try #require(detail.json["errors"]?.arrayValue)
        #expect(errors.count == 1)
        #expect(errors.first?["code"] == .string("SP_EXECUTION_FAILED"))
        #expect(errors.first?["reference"] == .string(reference))
        #expect(errors.first?["sqlstate"] == .string("P0001"))
        #expect(errors.first?["execution_id"] == .string(id))
        #expect(detail.json["attempt_log"]?.arrayValue?.map { $0["outcome"] } == [.string("failed")])

        let error = admin.get("/api/errors/\(reference)")
        #expect(error.status == 200, "\(error.text)")
        #expect(
            keys(error.json) == [
                "reference", "execution_id", "service_name", "code", "http_status", "sqlstate", "message", "detail",
                "created_at", "correlation_id",
            ])
        #expect(error.json["reference"] == .string(reference))
        #expect(error.json["execution_id"] == .string(id))
        #expect(error.json["service_name"] == .string("business_failure"))
        #expect(error.json["code"] == .string("SP_EXECUTION_FAILED"))
        #expect(error.json["http_status"] == .number(422))
        #expect(error.json["sqlstate"] == .string("P0001"))
        #expect(error.json["message"] == replyError["message"])
        // The details as the client got them (jsonb keeps its own key order).
        let stored = try #require(error.json["detail"]?.arrayValue?.first?.members)
        let given = try #require(replyError["details"]?.arrayValue?.first?.members)
        #expect(stored.sorted { $0.key < $1.key } == given.sorted { $0.key < $1.key })
        #expect(error.json["detail"]?.arrayValue?.count == 1)
        #expect(admin.get("/api/errors/\(reference.uppercased())").json == error.json)

        // An error of no execution (a refused call) is readable too.
        let refused = try admin.fixture.expectError(admin.get("/api/services", key: ""), "UNAUTHORIZED", status: 401)
        let refusedReference = try #require(refused["reference"]?.stringValue)
        let refusal = admin.get("/api/errors/\(refusedReference)")
        #expect(refusal.status == 200)
        #expect(refusal.json["code"] == .string("UNAUTHORIZED"))
        #expect(refusal.json["execution_id"] == .null)
        #expect(refusal.json["http_status"] == .number(401))
    }

    @Test func reprocessingIsLinkedBothWays() throws {
        let admin = try Admin()
        let original = try admin.executionID(admin.execute("business_failure"))
        let rerun = try admin.executionID(admin.execute("customer_count"))
        try admin.fixture.database.execute(
            """
            INSERT INTO spo.service_reprocessing (original_execution_id, new_execution_id, requested_by, reason)
            VALUES ($1, $2, 'ops-admin', 'fixed the data')
            """, [original, rerun])
        // Staged by hand past migration 13's trigger (a finished row is never changed otherwise).
        try admin.fixture.database.execute("SET session_replication_role = replica")
        try admin.fixture.database.execute(
            "UPDATE spo.service_execution SET reprocess_of = $1 WHERE id = $2", [original, rerun])
        try admin.fixture.database.execute("RESET session_replication_role")

        let first = admin.get("/api/executions/\(original)")
        let links = try #require(first.json["reprocessed_as"]?.arrayValue)
        #expect(links.count == 1)
        #expect(links.first?["original_execution_id"] == .string(original))
        #expect(links.first?["new_execution_id"] == .string(rerun))
        #expect(links.first?["requested_by"] == .string("ops-admin"))
        #expect(links.first?["reason"] == .string("fixed the data"))
        #expect(first.json["reprocessing_of"] == .null)

        let second = admin.get("/api/executions/\(rerun)")
        #expect(second.json["reprocessed_as"] == .array([]))
        #expect(second.json["reprocessing_of"]?["original_execution_id"] == .string(original))
        #expect(second.json["reprocess_of"] == .string(original))
        let listed = admin.get("/api/executions", "service=customer_count").json["items"]?.arrayValue
        #expect(listed?.map { $0["id"] } == [.string(rerun)])
        #expect(listed?.first?["reprocess_of"] == .string(original))
    }

    // MARK: - Bad requests

    @Test func badFiltersAreNamed() throws {
        let admin = try Admin()
        let cases: [(String, [String])] = [
            ("status=bad", ["status"]), ("status=SUCCEEDED", ["status"]), ("limit=0", ["limit"]),
            ("limit=501", ["limit"]), ("limit=-1", ["limit"]), ("limit=ten", ["limit"]), ("limit=", ["limit"]),
            ("limit=5.0", ["limit"]), ("cursor=xyz", ["cursor"]), ("cursor=", ["cursor"]),
            ("cursor=0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeeg", ["cursor"]),
            ("cursor=0190aaaabbbb7ccc8dddeeeeeeeeeeee", ["cursor"]), ("since=yesterday", ["since"]),
            ("since=2024-02-30", ["since"]), ("until=2024-01-01T25:00Z", ["until"]), ("until=", ["until"]),
            // An unencoded `+` is a space in a query string: not a zone.
            ("since=2024-01-01T00:00:00+01:00", ["since"]),
            ("foo=1", ["foo"]), ("page=2&per_page=10", ["page", "per_page"]),
            (
                "status=bad&limit=0&cursor=xyz&since=x&until=y&bogus=",
                ["status", "since", "until", "limit", "cursor", "bogus"]
            ),
        ]
        for (query, parameters) in cases {
            let reply = admin.get("/api/executions", query)
            let error = try admin.fixture.expectError(reply, "INVALID_PARAMETERS", status: 400)
            #expect(Set(named(error)) == Set(parameters), "\(query): \(reply.text)")
            #expect(named(error).count == parameters.count, "\(query): \(reply.text)")
            for problem in error["details"]?.arrayValue ?? [] {
                #expect(problem["problem"]?.stringValue?.isEmpty == false)
            }
        }
        // Percent-encoded names and values are decoded before they are checked.
        #expect(try admin.page("st%61tus=succeeded&limit=%35").ids.isEmpty)
    }

    @Test func unknownThingsAreNotFound() throws {
        let admin = try Admin()
        let id = try admin.executionID(admin.execute("customer_count"))
        #expect(admin.get("/api/executions/\(id)").status == 200)
        for path in [
            "/api/executions/" + RandomID.uuid(), "/api/executions/" + UUID().uuidString,
            "/api/executions/not-an-id", "/api/executions/" + id.replacingOccurrences(of: "-", with: ""),
            "/api/executions/" + id + "0", "/api/executions/" + String(id.dropLast()) + "g",
            "/api/executions/'; DROP TABLE spo.service_execution; --",
            "/api/errors/" + RandomID.uuid(), "/api/errors/" + id, "/api/errors/nope",
            "/api/connections/nope", "/api/retry-policies/nope",
        ] {
            try admin.fixture.expectError(admin.get(path), "NOT_FOUND", status: 404)
        }
        try admin.fixture.expectError(admin.get("/api/services/nope"), "SERVICE_NOT_FOUND", status: 404)
        // Deeper paths are no endpoint at all.
        try admin.fixture.expectError(admin.get("/api/executions/\(id)/attempts"), "NOT_FOUND", status: 404)
        #expect(try admin.fixture.value("SELECT count(*) FROM spo.service_execution") == "1")
    }

    /// Text that looks like a UUID only to Unicode-aware checks (fullwidth digits) is no id.
    @Test func nonASCIIHexIsNoID() throws {
        let admin = try Admin()
        let fullwidth = "\u{FF10}\u{FF11}9\u{FF41}aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"
        try admin.fixture.expectError(admin.get("/api/executions/\(fullwidth)"), "NOT_FOUND", status: 404)
        try admin.fixture.expectError(admin.get("/api/errors/\(fullwidth)"), "NOT_FOUND", status: 404)
        let encoded = try #require(
            fullwidth.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "0123456789abcdef-")))
        let error = try admin.fixture.expectError(
            admin.get("/api/executions", "cursor=\(encoded)"), "INVALID_PARAMETERS", status: 400)
        #expect(named(error) == ["cursor"])
    }
}

/// The state of a background worker: how many requests it made, what failed, when to stop.
final class Background: Sendable {
    private let state = Mutex((stop: false, count: 0, failures: [String]()))

    var stopped: Bool { state.withLock { $0.stop } }
    var count: Int { state.withLock { $0.count } }
    var failures: [String] { state.withLock { $0.failures } }

    func stop() { state.withLock { $0.stop = true } }

    func executed(status: Int) {
        state.withLock {
            $0.count += 1
            if status != 200 { $0.failures.append("status \(status)") }
        }
    }

    func failed(_ description: String) { state.withLock { $0.failures.append(description) } }
}
