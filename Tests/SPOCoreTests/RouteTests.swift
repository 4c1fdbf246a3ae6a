import Testing

@testable import SPOCore

@Suite struct RouteTests {
    @Test func executeByName() {
        #expect(Route(method: "POST", path: "/api/services/customer_get/execute") == .execute(service: "customer_get"))
    }

    @Test(arguments: [
        ("/api/services/a/execute", Route.execute(service: "a")),
        ("/api/services/ünï/execute", .execute(service: "ünï")),
        // A service named "execute", not an execution: POST is not for it.
        ("/api/services//execute", .methodNotAllowed(allowed: "GET, HEAD, PUT, DELETE")),
        ("/api/services/execute", .methodNotAllowed(allowed: "GET, HEAD, PUT, DELETE")),
        ("/api/services/a/b/execute", .notFound),
        ("/api/services/a/executes", .notFound),
        ("/x/api/services/a/execute", .notFound),
    ])
    func executePathsTakeTheShortWayOrNone(path: String, route: Route) {
        #expect(Route(method: "POST", path: path) == route)
    }

    @Test func executeEnvelope() {
        #expect(Route(method: "POST", path: "/api/execute") == .executeEnvelope)
    }

    @Test(arguments: ["GET", "HEAD"])
    func health(method: String) {
        #expect(Route(method: method, path: "/api/health") == .health)
    }

    @Test(arguments: [
        "/api/services/customer_get/execute/", "/api/execute/", "/api/health/", "//api//health", "/api/health//",
    ])
    func trailingAndDoubledSlashesAreIgnored(path: String) {
        let method = path.contains("health") ? "GET" : "POST"
        #expect(Route(method: method, path: path) != .notFound)
        if case .methodNotAllowed = Route(method: method, path: path) { Issue.record("\(path) was not allowed") }
    }

    @Test func trailingSlashKeepsTheServiceName() {
        #expect(Route(method: "POST", path: "/api/services/s1/execute/") == .execute(service: "s1"))
    }

    @Test(arguments: ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post"])
    func executeOnlyAllowsPost(method: String) {
        #expect(Route(method: method, path: "/api/services/s/execute") == .methodNotAllowed(allowed: "POST"))
        #expect(Route(method: method, path: "/api/execute") == .methodNotAllowed(allowed: "POST"))
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "get"])
    func healthOnlyAllowsGetAndHead(method: String) {
        #expect(Route(method: method, path: "/api/health") == .methodNotAllowed(allowed: "GET, HEAD"))
    }

    @Test(arguments: [
        "/", "", "/api", "/api/", "/health", "/apix/health", "/x/api/health",
        "/api/services/s/run", "/api/services/s/execute/more",
        "/api/services/a/b/execute", "/api/healthz", "/api/health/services/x", "/API/health", "/api/Health",
    ])
    func unknownPathsAreNotFound(path: String) {
        for method in ["GET", "POST", "HEAD"] {
            #expect(Route(method: method, path: path) == .notFound)
        }
    }

    @Test func administrationPathsAndTheirMethods() {
        let cases: [(String, AdminRoute)] = [
            ("/api/services", .services), ("/api/services/s", .service("s")), ("/api/connections", .connections),
            ("/api/connections/demo", .connection("demo")), ("/api/retry-policies", .retryPolicies),
            ("/api/retry-policies/default", .retryPolicy("default")), ("/api/executions", .executions),
            ("/api/executions/x", .execution("x")), ("/api/errors/r", .error("r")),
            ("/api/health/services", .healthOfServices),
        ]
        for (path, admin) in cases {
            #expect(Route(method: "GET", path: path) == .admin(admin))
            #expect(Route(method: "GET", path: path).needsKey)
            #expect(Route(method: "PATCH", path: path) == .methodNotAllowed(allowed: admin.allowed))
        }
    }

    @Test func configurationCanBeWrittenAuditCannot() {
        #expect(Route(method: "POST", path: "/api/services") == .adminWrite(.services, method: "POST"))
        #expect(Route(method: "PUT", path: "/api/connections/c") == .adminWrite(.connection("c"), method: "PUT"))
        #expect(
            Route(method: "DELETE", path: "/api/retry-policies/p") == .adminWrite(.retryPolicy("p"), method: "DELETE"))
        #expect(Route(method: "DELETE", path: "/api/services") == .methodNotAllowed(allowed: "GET, HEAD, POST"))
        #expect(Route(method: "DELETE", path: "/api/executions/x") == .methodNotAllowed(allowed: "GET, HEAD"))
        #expect(Route(method: "POST", path: "/api/errors/r") == .methodNotAllowed(allowed: "GET, HEAD"))
    }

    @Test func reprocessingIsAPostOnAnExecution() {
        #expect(Route(method: "POST", path: "/api/executions/abc/reprocess") == .reprocess(execution: "abc"))
        #expect(Route(method: "POST", path: "/api/executions/abc/reprocess").needsKey)
        #expect(Route(method: "GET", path: "/api/executions/abc/reprocess") == .methodNotAllowed(allowed: "POST"))
    }
}
