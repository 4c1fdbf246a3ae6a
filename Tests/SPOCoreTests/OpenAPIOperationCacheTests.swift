import SPOJSON
import Testing

@testable import SPOCore

@Suite struct OpenAPIOperationCacheTests {
    private func service(_ name: String, description: String = "") -> ServiceDefinition {
        ServiceDefinition(
            name: name, description: description, connection: "demo",
            procedure: QualifiedName(schema: "demo", name: name), resultShape: .set,
            parameters: [ParameterSpec(name: "p_id", type: SQLType(.integer), required: true, minimum: "1")])
    }

    private func configuration(_ services: [ServiceDefinition]) -> Configuration {
        Configuration(
            services: Dictionary(uniqueKeysWithValues: services.map { ($0.name, $0) }),
            connections: ["demo": ConnectionDefinition(name: "demo", conninfo: "dbname=demo")])
    }

    @Test func aDocumentFromKeptOperationsIsTheTextOfAFreshOne() {
        var cache = OpenAPIOperationCache()
        let before = configuration((0..<20).map { service("s\($0)") })
        #expect(
            OpenAPIDocument.make(before, operations: &cache).serialized() == OpenAPIDocument.make(before).serialized())
        #expect(cache.count == 20)
        // One service changed: its operation is rendered again, the other nineteen are reused.
        var services = (0..<20).map { service("s\($0)") }
        services[7] = service("s7", description: "changed")
        let after = configuration(services)
        let reused = OpenAPIDocument.make(after, operations: &cache).serialized()
        #expect(reused == OpenAPIDocument.make(after).serialized())
        #expect(reused.contains("\"summary\":\"changed\""))
    }

    @Test func aCallerWhoSeesFewerServicesLeavesTheOthersKeptAndRemovedOnesGo() {
        var cache = OpenAPIOperationCache()
        let all = configuration((0..<5).map { service("s\($0)") })
        _ = OpenAPIDocument.make(all, operations: &cache)
        let key = APIKey(name: "one", prefix: "aaaaaaaa", secretHash: "", role: .executor, grants: ["s1"])
        let narrow = OpenAPIDocument.make(all, for: Principal(name: "one", key: key), operations: &cache)
        #expect(narrow.serialized() == OpenAPIDocument.make(all, for: Principal(name: "one", key: key)).serialized())
        #expect(cache.count == 5)
        _ = OpenAPIDocument.make(configuration([service("s0"), service("s1")]), operations: &cache)
        #expect(cache.count == 2)
    }
}
