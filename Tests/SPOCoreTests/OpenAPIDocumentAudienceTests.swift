import SPOJSON
import Testing

@testable import SPOCore

/// `/api/openapi.json` lists, for each caller, only what that caller may call.
@Suite struct OpenAPIDocumentAudienceTests {
    let configuration: Configuration = {
        var configuration = Configuration()
        for (name, isPublic) in [("open_one", true), ("granted_one", false), ("private_one", false)] {
            var service = ServiceDefinition(
                name: name, connection: "demo", procedure: QualifiedName(schema: "demo", name: name),
                resultShape: .scalar, parameters: [])
            service.isPublic = isPublic
            configuration.services[name] = service
        }
        return configuration
    }()
    let executor = Principal(
        name: "reports",
        key: APIKey(name: "reports", prefix: "aaaaaaaa", secretHash: "", role: .executor, grants: ["granted_one"]))
    let admin = Principal(
        name: "ops", key: APIKey(name: "ops", prefix: "bbbbbbbb", secretHash: "", role: .admin, grants: []))

    private func paths(_ caller: Principal?) -> Set<String> {
        Set(OpenAPIDocument.make(configuration, for: caller)["paths"]?.members?.map(\.key) ?? [])
    }

    @Test func anonymousCallersSeePublicServicesAndPublicEndpoints() {
        #expect(
            paths(.anonymous)
                == [
                    "/api/services/open_one/execute", "/api/execute", "/api/health", "/api/openapi.json", "/metrics",
                ])
        let document = OpenAPIDocument.make(configuration, for: .anonymous)
        let envelope = document["paths"]?["/api/execute"]?["post"]?["requestBody"]?["content"]?["application/json"]?[
            "schema"]?["properties"]?["service"]?["enum"]
        #expect(envelope == .array([.string("open_one")]))
        #expect(
            document["paths"]?["/api/services/open_one/execute"]?["post"]?["security"]
                == .array([.object([:]), .object(["bearerAuth": .array([])])]))
    }

    @Test func anExecutorKeySeesItsGrantsAndItsExecutionsButNoAdministration() {
        let seen = paths(executor)
        #expect(seen.contains("/api/services/granted_one/execute"))
        #expect(!seen.contains("/api/services/open_one/execute"), "its grants, not the public list")
        #expect(!seen.contains("/api/services/private_one/execute"))
        #expect(seen.contains("/api/executions/{id}") && seen.contains("/api/executions/status"))
        #expect(!seen.contains("/api/services") && !seen.contains("/api/stats") && !seen.contains("/api/executions"))
    }

    @Test func adminKeysSeeEverything() {
        #expect(paths(admin) == paths(nil))
        #expect(paths(admin).isSuperset(of: paths(executor).union(paths(.anonymous))))
        #expect(paths(admin).contains("/api/services/private_one/execute"))
    }

    @Test func withoutPublicServicesAnonymousCallersSeeNoExecution() {
        var closed = configuration
        closed.services["open_one"]?.isPublic = false
        let seen = Set(OpenAPIDocument.make(closed, for: .anonymous)["paths"]?.members?.map(\.key) ?? [])
        #expect(seen == ["/api/health", "/api/openapi.json", "/metrics"])
    }
}
