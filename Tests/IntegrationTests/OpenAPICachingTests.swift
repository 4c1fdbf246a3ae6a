import Foundation
import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore
@testable import SPOServer

/// `GET /api/openapi.json` rendered once per configuration state and audience, with an `ETag`,
/// and still current on the very next request after a change made anywhere.
@Suite struct OpenAPICachingTests {
    private func document(_ fixture: Fixture, _ headers: [String: String] = [:], anonymous: Bool = false) -> Reply {
        fixture.send(
            HTTPRequest(method: "GET", path: "/api/openapi.json", headers: HTTPHeaders(headers)), anonymous: anonymous)
    }

    @Test func aRequestNamingTheCurrentTagIsAnswered304WithoutABody() throws {
        let fixture = try Fixture()
        let first = document(fixture)
        #expect(first.status == 200)
        #expect(first.header("content-type") == "application/json")
        let tag = try #require(first.header("etag"))
        #expect(tag == EntityTag(digestOf: Array(first.text.utf8)).header)
        let again = document(fixture, ["if-none-match": tag])
        #expect(again.status == 304)
        #expect(again.text.isEmpty)
        #expect(again.header("etag") == tag)
        #expect(document(fixture, ["if-none-match": "W/\(tag)"]).status == 304)
        #expect(document(fixture, ["if-none-match": "\"0000\", \(tag)"]).status == 304)
        let other = document(fixture, ["if-none-match": "\"0000\""])
        #expect(other.status == 200)
        #expect(other.text == first.text, "a kept rendering is the same document")
    }

    @Test func eachAudienceHasItsOwnDocumentAndTag() throws {
        let fixture = try Fixture()
        let executor = document(fixture)
        let anonymous = document(fixture, anonymous: true)
        let adminKey = try APIKeyStore.create(name: "ops", role: .admin, grants: [], on: fixture.database)
        let admin = document(fixture, ["authorization": "Bearer " + adminKey])
        let tags = [executor, anonymous, admin].compactMap { $0.header("etag") }
        #expect(Set(tags).count == 3)
        #expect(document(fixture, ["if-none-match": tags[0]], anonymous: true).status == 200)
        #expect(document(fixture, ["if-none-match": tags[1]], anonymous: true).status == 304)
        let paths = { (reply: Reply) in Set(reply.json["paths"]?.members?.map(\.key) ?? []) }
        #expect(paths(anonymous).contains("/api/services/customer_count/execute"))
        #expect(!paths(anonymous).contains("/api/services/customer_get/execute"))
        #expect(paths(executor).contains("/api/services/customer_get/execute"))
        #expect(!paths(executor).contains("/api/services"))
        #expect(paths(admin).contains("/api/services"))
    }

    @Test func aChangeBehindTheWorkersBackShowsOnTheNextRequest() throws {
        let fixture = try Fixture()
        let before = document(fixture)
        let tag = try #require(before.header("etag"))
        try fixture.database.execute(
            "UPDATE spo.service SET description = 'changed behind its back' WHERE name = 'customer_get'")
        // No NOTIFY followed: this worker's snapshot was behind its generation, so the committed
        // configuration was installed first.
        let after = document(fixture, ["if-none-match": tag])
        #expect(after.status == 200)
        #expect(after.text.contains("changed behind its back"))
        #expect(after.header("etag") != tag)
        #expect(fixture.handler.configuration.services["customer_get"]!.description.contains("behind"))
        // A reload of the same generation renders the same text.
        try fixture.reload()
        let followed = document(fixture, ["if-none-match": try #require(after.header("etag"))])
        #expect(followed.status == 304)
    }
}
