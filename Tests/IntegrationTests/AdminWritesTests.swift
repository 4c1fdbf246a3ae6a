import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// Configuration writes over HTTP are atomic: POST is one insert, a PUT with `version` one
/// conditional update, under real concurrency (a crowd of workers released at one instant).
@Suite struct AdminWritesTests {
    /// A database, its admin key, and a crowd of workers serving it.
    struct World {
        let admin: AdminAPITests.Admin
        let crowd: Crowd

        init(workers: Int = 8) throws {
            admin = try AdminAPITests.Admin()
            crowd = try Crowd(size: workers, conninfo: admin.fixture.conninfo)
        }

        var fixture: Fixture { admin.fixture }

        func request(_ method: String, _ path: String, _ body: String = "") -> HTTPRequest {
            HTTPRequest(
                method: method, path: path,
                headers: ["authorization": "Bearer \(admin.key)", "content-type": "application/json"],
                body: Array(body.utf8))
        }

        func send(_ method: String, _ path: String, _ body: String = "") -> Reply {
            fixture.send(request(method, path, body))
        }

        /// Every worker sends the same request at once.
        func everyone(_ method: String, _ path: String, _ body: @escaping @Sendable (Int) -> String) throws
            -> [Reply]
        {
            let key = admin.key
            return try crowd.send { index in
                HTTPRequest(
                    method: method, path: path,
                    headers: ["authorization": "Bearer \(key)", "content-type": "application/json"],
                    body: Array(body(index).utf8))
            }
        }
    }

    private func statuses(_ replies: [Reply]) -> [Int: Int] {
        Dictionary(replies.map { ($0.status, 1) }, uniquingKeysWith: +)
    }

    private func service(_ name: String, description: String = "") -> String {
        #"{"name": "\#(name)", "description": "\#(description)", "connection": "demo", "#
            + #""procedure": "demo.customer_count", "parameters": "discover"}"#
    }

    // MARK: - POST is a plain insert

    @Test func concurrentPostsOfOneServiceCreateItOnce() throws {
        let world = try World()
        for round in 0..<6 {
            let name = "crowd_\(round)"
            let body = service(name)
            let replies = try world.everyone("POST", "/api/services") { _ in body }
            #expect(statuses(replies) == [201: 1, 409: world.crowd.size - 1], "\(replies.map(\.text))")
            for reply in replies where reply.status == 409 {
                let error = try world.fixture.expectError(reply, "CONFLICT", status: 409)
                #expect(error["message"]?.stringValue?.contains("\(name) exists") == true, "\(reply.text)")
            }
            let created = try #require(replies.first { $0.status == 201 })
            #expect(created.json["name"] == .string(name))
            #expect(created.json["version"] == .number(1), "created, never replaced: \(created.text)")
            #expect(try world.fixture.value("SELECT version::text FROM spo.service WHERE name = $1", [name]) == "1")
        }
        #expect(try world.fixture.value("SELECT count(*) FROM spo.service") == "16")
    }

    @Test func concurrentPostsOfOneConnectionAndOnePolicyCreateEachOnce() throws {
        let world = try World()
        for round in 0..<4 {
            let connection = try world.everyone("POST", "/api/connections") { index in
                #"{"name": "spare-\#(round)", "conninfo": "host=/nonexistent dbname=w\#(index)"}"#
            }
            #expect(statuses(connection) == [201: 1, 409: world.crowd.size - 1], "\(connection.map(\.text))")
            // The stored row is the one that was answered 201, untouched by the others.
            let winner = try #require(connection.first { $0.status == 201 }?.json["conninfo"]?.stringValue)
            #expect(
                try world.fixture.value("SELECT conninfo FROM spo.connection WHERE name = $1", ["spare-\(round)"])
                    == winner)

            let policy = try world.everyone("POST", "/api/retry-policies") { index in
                #"{"name": "patient-\#(round)", "max_attempts": \#(index + 1)}"#
            }
            #expect(statuses(policy) == [201: 1, 409: world.crowd.size - 1], "\(policy.map(\.text))")
            let attempts = try #require(policy.first { $0.status == 201 }?.json["max_attempts"]?.intValue)
            #expect(
                try world.fixture.value(
                    "SELECT max_attempts::text FROM spo.service_retry_policy WHERE name = $1", ["patient-\(round)"])
                    == String(attempts))
        }
    }

    @Test func postOfAnExistingNameIsAConflictAndChangesNothing() throws {
        let world = try World(workers: 1)
        let before = try world.fixture.rows("SELECT name, version::text, description FROM spo.service ORDER BY name")
        let error = try world.fixture.expectError(
            world.send("POST", "/api/services", service("customer_get", description: "overwritten?")), "CONFLICT",
            status: 409)
        #expect(error["message"]?.stringValue == "a service named customer_get exists; use PUT to replace it")
        try world.fixture.expectError(
            world.send("POST", "/api/connections", #"{"name": "demo", "conninfo": "dbname=other"}"#), "CONFLICT",
            status: 409)
        try world.fixture.expectError(
            world.send("POST", "/api/retry-policies", #"{"name": "default", "max_attempts": 9}"#), "CONFLICT",
            status: 409)
        #expect(
            try world.fixture.rows("SELECT name, version::text, description FROM spo.service ORDER BY name") == before)
        #expect(
            try world.fixture.value("SELECT conninfo FROM spo.connection WHERE name = 'demo'") == world.fixture.conninfo
        )
        #expect(
            try world.fixture.value("SELECT max_attempts::text FROM spo.service_retry_policy WHERE name = 'default'")
                == "3")
    }

    // MARK: - PUT with version is one conditional update

    @Test func concurrentPutsWithOneVersionReplaceItOnce() throws {
        let world = try World()
        #expect(world.send("POST", "/api/services", service("contested")).status == 201)
        for round in 0..<6 {
            let version = round + 1
            #expect(world.send("GET", "/api/services/contested").json["version"] == .number(version))
            let replies = try world.everyone("PUT", "/api/services/contested") { index in
                #"{"version": \#(version), "description": "writer \#(index)", "connection": "demo", "#
                    + #""procedure": "demo.customer_count", "parameters": "discover"}"#
            }
            #expect(statuses(replies) == [200: 1, 409: world.crowd.size - 1], "\(replies.map(\.text))")
            let winner = try #require(replies.first { $0.status == 200 })
            #expect(winner.json["version"] == .number(version + 1), "\(winner.text)")
            for reply in replies where reply.status == 409 {
                let error = try world.fixture.expectError(reply, "CONFLICT", status: 409)
                #expect(
                    error["message"]?.stringValue
                        == "the service contested changed since version \(version) (now \(version + 1)); read it again")
            }
            // What is stored is the winner's document, and only one write happened.
            let stored = try world.fixture.rows(
                "SELECT description, version::text FROM spo.service WHERE name = 'contested'")
            #expect(stored == [[winner.json["description"]?.stringValue, String(version + 1)]])
        }
    }

    @Test func putWithVersionOfAMissingServiceIsNotFoundAndCreatesNothing() throws {
        let world = try World(workers: 1)
        let body =
            #"{"version": 1, "connection": "demo", "procedure": "demo.customer_count", "parameters": "discover"}"#
        let error = try world.fixture.expectError(
            world.send("PUT", "/api/services/ghost", body), "SERVICE_NOT_FOUND", status: 404)
        #expect(error["message"]?.stringValue == "no service named ghost")
        #expect(try world.fixture.value("SELECT count(*) FROM spo.service WHERE name = 'ghost'") == "0")
        // Without a version, PUT creates or replaces: the last write wins.
        let created = world.send(
            "PUT", "/api/services/ghost", body.replacingOccurrences(of: #""version": 1, "#, with: ""))
        #expect(created.status == 200, "\(created.text)")
        let replaced = world.send(
            "PUT", "/api/services/ghost",
            #"{"description": "again", "connection": "demo", "procedure": "demo.customer_count", "parameters": "discover"}"#
        )
        #expect(replaced.status == 200 && replaced.json["version"] == .number(2), "\(replaced.text)")
        #expect(try world.fixture.value("SELECT description FROM spo.service WHERE name = 'ghost'") == "again")
    }

    /// A refused write (stale version, bad document) leaves service and configuration as they were.
    @Test func aStalePutChangesNeitherRow() throws {
        let world = try World(workers: 1)
        let before = try world.fixture.rows(
            """
            SELECT s.version::text, s.timeout_ms::text, c.parameters::text, c.updated_at::text
            FROM spo.service s JOIN spo.service_configuration c ON c.service_id = s.id WHERE s.name = 'customer_get'
            """)
        let stale =
            #"{"version": 7, "connection": "demo", "procedure": "demo.customer_count", "parameters": "discover"}"#
        let error = try world.fixture.expectError(
            world.send("PUT", "/api/services/customer_get", stale), "CONFLICT", status: 409)
        #expect(error["message"]?.stringValue?.contains("since version 7 (now 1)") == true)
        let after = try world.fixture.rows(
            """
            SELECT s.version::text, s.timeout_ms::text, c.parameters::text, c.updated_at::text
            FROM spo.service s JOIN spo.service_configuration c ON c.service_id = s.id WHERE s.name = 'customer_get'
            """)
        #expect(after == before)
    }
}
