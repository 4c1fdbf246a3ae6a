import SPOJSON
import Testing

@testable import SPOCore

@Suite struct EndpointTableTests {
    private func match(_ method: String, _ path: String) -> EndpointMatch {
        EndpointTable.match(method: method, path: path)
    }

    private func found(_ id: Endpoint.ID, _ arguments: [String] = []) -> EndpointMatch {
        .found(EndpointTable.endpoint(id), arguments: arguments)
    }

    @Test func executeByName() {
        #expect(match("POST", "/api/services/customer_get/execute") == found(.executeService, ["customer_get"]))
    }

    @Test(arguments: [
        ("/api/services/a/execute", EndpointMatch.found(EndpointTable.endpoint(.executeService), arguments: ["a"])),
        ("/api/services/ünï/execute", .found(EndpointTable.endpoint(.executeService), arguments: ["ünï"])),
        // A service named "execute", not an execution: POST is not for it.
        ("/api/services//execute", .methodNotAllowed(allowed: "GET, HEAD, PUT, DELETE")),
        ("/api/services/execute", .methodNotAllowed(allowed: "GET, HEAD, PUT, DELETE")),
        ("/api/services/a/b/execute", .notFound),
        ("/api/services/a/executes", .notFound),
        ("/x/api/services/a/execute", .notFound),
    ])
    func executePathsTakeTheShortWayOrNone(path: String, expected: EndpointMatch) {
        #expect(match("POST", path) == expected)
    }

    @Test func executeEnvelope() {
        #expect(match("POST", "/api/execute") == found(.executeEnvelope))
    }

    @Test(arguments: ["GET", "HEAD"])
    func health(method: String) {
        #expect(match(method, "/api/health") == found(.health))
    }

    @Test(arguments: [
        "/api/services/customer_get/execute/", "/api/execute/", "/api/health/", "//api//health", "/api/health//",
    ])
    func trailingAndDoubledSlashesAreIgnored(path: String) {
        let method = path.contains("health") ? "GET" : "POST"
        guard case .found = match(method, path) else {
            Issue.record("\(path) was not found")
            return
        }
    }

    @Test func trailingSlashKeepsTheServiceName() {
        #expect(match("POST", "/api/services/s1/execute/") == found(.executeService, ["s1"]))
    }

    @Test(arguments: ["GET", "PUT", "DELETE", "PATCH", "HEAD", "options", "post"])
    func executeOnlyAllowsPostAndThePreflight(method: String) {
        #expect(match(method, "/api/services/s/execute") == .methodNotAllowed(allowed: "POST, OPTIONS"))
        #expect(match(method, "/api/execute") == .methodNotAllowed(allowed: "POST, OPTIONS"))
    }

    /// OPTIONS is answered (a CORS preflight, or the path's methods) exactly where browsers may call
    /// across origins, and is a 405 like any other method everywhere else.
    @Test func optionsIsThePreflightOfCrossOriginPathsOnly() {
        let execute = EndpointTable.endpoint(.executeService)
        #expect(match("OPTIONS", "/api/services/s/execute") == .preflight(execute, allowed: "POST, OPTIONS"))
        #expect(
            match("OPTIONS", "/api/execute")
                == .preflight(EndpointTable.endpoint(.executeEnvelope), allowed: "POST, OPTIONS"))
        #expect(
            match("OPTIONS", "/api/executions/x")
                == .preflight(EndpointTable.endpoint(.getExecution), allowed: "GET, HEAD, OPTIONS"))
        #expect(match("OPTIONS", "/api/services") == .methodNotAllowed(allowed: "GET, HEAD, POST"))
        #expect(match("OPTIONS", "/api/health") == .methodNotAllowed(allowed: "GET, HEAD"))
        #expect(match("OPTIONS", "/api/nothing") == .notFound)
        for endpoint in EndpointTable.all where endpoint.isCrossOrigin {
            #expect(endpoint.access != .admin && endpoint.access != .anyone)
        }
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "get"])
    func healthOnlyAllowsGetAndHead(method: String) {
        #expect(match(method, "/api/health") == .methodNotAllowed(allowed: "GET, HEAD"))
    }

    @Test(arguments: [
        "/", "", "/api", "/api/", "/health", "/apix/health", "/x/api/health",
        "/api/services/s/run", "/api/services/s/execute/more",
        "/api/services/a/b/execute", "/api/healthz", "/api/health/services/x", "/API/health", "/api/Health",
    ])
    func unknownPathsAreNotFound(path: String) {
        for method in ["GET", "POST", "HEAD"] {
            #expect(match(method, path) == .notFound)
        }
    }

    @Test func administrationPathsAndTheirMethods() {
        let cases: [(String, Endpoint.ID, [String], String)] = [
            ("/api/services", .listServices, [], "GET, HEAD, POST"),
            ("/api/services/s", .getService, ["s"], "GET, HEAD, PUT, DELETE"),
            ("/api/connections", .listConnections, [], "GET, HEAD, POST"),
            ("/api/connections/demo", .getConnection, ["demo"], "GET, HEAD, PUT, DELETE"),
            ("/api/retry-policies", .listRetryPolicies, [], "GET, HEAD, POST"),
            ("/api/retry-policies/default", .getRetryPolicy, ["default"], "GET, HEAD, PUT, DELETE"),
            ("/api/executions", .listExecutions, [], "GET, HEAD"),
            ("/api/errors/r", .getError, ["r"], "GET, HEAD"),
            ("/api/health/services", .servicesHealth, [], "GET, HEAD"),
        ]
        for (path, id, arguments, allowed) in cases {
            #expect(match("GET", path) == found(id, arguments))
            #expect(EndpointTable.endpoint(id).access == .admin)
            #expect(match("PATCH", path) == .methodNotAllowed(allowed: allowed))
        }
    }

    @Test func configurationCanBeWrittenAuditCannot() {
        #expect(match("POST", "/api/services") == found(.createService))
        #expect(match("PUT", "/api/connections/c") == found(.replaceConnection, ["c"]))
        #expect(match("DELETE", "/api/retry-policies/p") == found(.deleteRetryPolicy, ["p"]))
        #expect(match("DELETE", "/api/services") == .methodNotAllowed(allowed: "GET, HEAD, POST"))
        #expect(match("DELETE", "/api/executions/x") == .methodNotAllowed(allowed: "GET, HEAD, OPTIONS"))
        #expect(match("POST", "/api/errors/r") == .methodNotAllowed(allowed: "GET, HEAD"))
    }

    /// Async callers poll their own executions, so these two take any key (the handler decides
    /// what each caller may read); the status list is a POST beside the item's GET.
    @Test func executionsCanBeReadBackByTheirCallers() {
        #expect(match("GET", "/api/executions/x") == found(.getExecution, ["x"]))
        #expect(EndpointTable.endpoint(.getExecution).access == .caller)
        #expect(match("POST", "/api/executions/status") == found(.executionStatuses))
        #expect(EndpointTable.endpoint(.executionStatuses).access == .caller)
        // The literal path wins over {id}: no execution is called "status".
        #expect(match("GET", "/api/executions/status") == .methodNotAllowed(allowed: "POST, OPTIONS"))
        #expect(match("GET", "/api/executions/0193") == found(.getExecution, ["0193"]))
    }

    @Test func reprocessingIsAPostOnAnExecution() {
        #expect(match("POST", "/api/executions/abc/reprocess") == found(.reprocessExecution, ["abc"]))
        #expect(EndpointTable.endpoint(.reprocessExecution).access == .admin)
        #expect(match("GET", "/api/executions/abc/reprocess") == .methodNotAllowed(allowed: "POST"))
    }

    @Test func onlyProbesTheDocumentAndMetricsArePublic() {
        // /metrics is for Prometheus, which sends no key: nginx admits only local and private addresses.
        let public_ = EndpointTable.all.filter { $0.access == .anyone }.map(\.id)
        #expect(Set(public_) == [.health, .openAPIDocument, .metrics])
    }

    @Test func metricsAndStatsAreRoutedStatsForAdminsOnly() {
        #expect(match("GET", "/metrics") == found(.metrics, []))
        #expect(match("GET", "/api/stats") == found(.stats, []))
        #expect(EndpointTable.endpoint(.stats).access == .admin)
        #expect(EndpointTable.endpoint(.metrics).success.contentType == "text/plain")
        #expect(match("POST", "/metrics") == .methodNotAllowed(allowed: "GET, HEAD"))
    }

    @Test func everyIDIsDeclaredExactlyOnceAndEveryMethodPathPairOnce() {
        #expect(
            EndpointTable.all.map(\.id).sorted { $0.rawValue < $1.rawValue }
                == Endpoint.ID.allCases.sorted {
                    $0.rawValue < $1.rawValue
                })
        let pairs = EndpointTable.all.map { "\($0.method.rawValue) \($0.path)" }
        #expect(Set(pairs).count == pairs.count)
    }

    /// The route-table test: every declared endpoint is in the OpenAPI document under its path and
    /// method, and every documented operation is one the table answers — nothing else answers.
    @Test func theOpenAPIPathsAreTheTable() throws {
        let service = ServiceDefinition(
            name: "one", connection: "demo", procedure: QualifiedName(schema: "demo", name: "f"), resultShape: .scalar,
            parameters: [])
        let configuration = Configuration(services: ["one": service])
        let paths = try #require(OpenAPIDocument.make(configuration)["paths"]?.members)
        var documented: [(method: String, path: String, operationId: String)] = []
        for path in paths {
            for operation in path.value.members ?? [] {
                documented.append(
                    (operation.key.uppercased(), path.key, operation.value["operationId"]?.stringValue ?? ""))
            }
        }
        for endpoint in EndpointTable.all where endpoint.id != .executeService {
            #expect(
                documented.contains {
                    $0.method == endpoint.method.rawValue && $0.path == endpoint.path.description
                        && $0.operationId == endpoint.id.rawValue
                }, "\(endpoint.id) is not documented")
        }
        #expect(documented.contains { $0.path == "/api/services/one/execute" && $0.method == "POST" })
        for operation in documented {
            // The document's paths are concrete or name their parameters; either way the table answers.
            let concrete = operation.path.replacingOccurrences(of: "{name}", with: "x")
                .replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{reference}", with: "x")
            guard case .found(let endpoint, _) = EndpointTable.match(method: operation.method, path: concrete) else {
                Issue.record("\(operation.method) \(operation.path) is documented but not answered")
                continue
            }
            if operation.operationId != "execute_one" { #expect(endpoint.id.rawValue == operation.operationId) }
            for other in HTTPMethod.allCases where other != .head {
                let answered = documented.contains { $0.path == operation.path && $0.method == other.rawValue }
                if case .found = EndpointTable.match(method: other.rawValue, path: concrete) {
                    #expect(answered, "\(other.rawValue) \(operation.path) answers but is not documented")
                }
            }
        }
    }

    @Test func everyErrorCodeHasADocumentedResponse() throws {
        let responses = try #require(OpenAPIDocument.make(Configuration())["components"]?["responses"])
        for code in APIError.Code.allCases {
            let response = responses[OpenAPIDocument.Components.responseName(code)]
            #expect(response?["description"]?.stringValue?.hasPrefix(code.rawValue + ":") == true)
        }
    }
}
