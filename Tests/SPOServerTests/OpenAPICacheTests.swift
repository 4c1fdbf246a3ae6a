import Testing

@testable import SPOCore
@testable import SPOServer

/// Renderings of the OpenAPI document kept per audience, for one configuration state at a time.
@Suite struct OpenAPICacheTests {
    let anonymous = OpenAPIAudience(.anonymous)
    let admin = OpenAPIAudience(
        Principal(name: "ops", key: APIKey(name: "ops", prefix: "aaaaaaaa", secretHash: "", role: .admin)))

    private func rendering(_ text: String, bytes: Int = 0) -> OpenAPICache.Rendered {
        let body = Array(text.utf8) + [UInt8](repeating: 32, count: bytes)
        return .init(body: body, tag: EntityTag(digestOf: body))
    }

    @Test func aRenderingIsFoundForItsAudienceAndStateOnly() {
        var cache = OpenAPICache()
        cache.store(rendering("anonymous"), for: anonymous, at: 1)
        cache.store(rendering("admin"), for: admin, at: 1)
        #expect(cache.rendered(for: anonymous, at: 1)?.body == Array("anonymous".utf8))
        #expect(cache.rendered(for: admin, at: 1)?.body == Array("admin".utf8))
        #expect(cache.rendered(for: admin, at: 2) == nil)
        #expect(cache.count == 2)
    }

    @Test func aNewStateDropsEveryRenderingOfTheOld() {
        var cache = OpenAPICache()
        cache.store(rendering("anonymous"), for: anonymous, at: 1)
        cache.store(rendering("admin"), for: admin, at: 1)
        cache.store(rendering("admin, later"), for: admin, at: 2)
        #expect(cache.count == 1)
        #expect(cache.rendered(for: anonymous, at: 1) == nil)
        #expect(cache.rendered(for: anonymous, at: 2) == nil)
        #expect(cache.rendered(for: admin, at: 2)?.body == Array("admin, later".utf8))
    }

    @Test func pastTheByteLimitTheLeastRecentlyUsedGoFirstButTheNewestStays() {
        var cache = OpenAPICache()
        let half = OpenAPICache.byteLimit / 2
        let executors = (0..<3).map { index in
            OpenAPIAudience(
                Principal(
                    name: "k\(index)",
                    key: APIKey(name: "k", prefix: "aaaaaaaa", secretHash: "", role: .executor, grants: ["s\(index)"])))
        }
        cache.store(rendering("first", bytes: half - 100), for: executors[0], at: 1)
        cache.store(rendering("second", bytes: half - 100), for: executors[1], at: 1)
        #expect(cache.rendered(for: executors[0], at: 1) != nil)  // now the most recently used
        cache.store(rendering("third", bytes: half - 100), for: executors[2], at: 1)
        #expect(cache.count == 2)
        #expect(cache.rendered(for: executors[1], at: 1) == nil, "the least recently used went")
        #expect(cache.rendered(for: executors[0], at: 1) != nil)
        cache.store(rendering("huge", bytes: OpenAPICache.byteLimit * 2), for: anonymous, at: 1)
        #expect(cache.count == 1)
        #expect(cache.rendered(for: anonymous, at: 1) != nil, "what was just rendered is kept")
    }
}
