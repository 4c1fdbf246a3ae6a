import SPOJSON

// MARK: - Paths from the endpoint table

extension OpenAPIDocument {
    /// The document's paths: one per endpoint of `EndpointTable`, in its order, the execute path
    /// spelled out once per enabled service; only the endpoints `including` keeps.
    static func paths(
        _ services: [ServiceDefinition], operations: inout OpenAPIOperationCache,
        including: (Endpoint) -> Bool = { _ in true }
    ) -> [JSONValue.Member] {
        var paths: [(path: String, operations: [JSONValue.Member])] = []
        // Where each path is in `paths`: searching the list made 1,000 services quadratic.
        var positions: [String: Int] = [:]
        func add(_ path: String, _ method: HTTPMethod, _ operation: JSONValue) {
            if let index = positions[path] {
                paths[index].operations.append(.init(method.openAPIKey, operation))
            } else {
                positions[path] = paths.count
                paths.append((path, [.init(method.openAPIKey, operation)]))
            }
        }
        for endpoint in EndpointTable.all where including(endpoint) {
            switch endpoint.id {
            case .executeService:
                for service in services {
                    let operation = operations.operation(of: service) {
                        let composite = service.kind == .parallel ? parallelSchemas(service, services) : nil
                        let path =
                            service.saga == nil
                            ? executePath(service, composite: composite) : sagaExecutePath(service, among: services)
                        return path["post"] ?? .null
                    }
                    add("/api/services/\(service.name)/execute", endpoint.method, operation)
                }
            case .executeEnvelope:
                add(endpoint.path.description, endpoint.method, envelopePath(services)["post"] ?? .null)
            default:
                // Reprocessing runs any service again: its failures answer what the services' do.
                let failures =
                    endpoint.errors.contains(.spExecutionFailed) ? ExecutionFailures.union(services) : []
                add(endpoint.path.description, endpoint.method, operation(endpoint, failures: failures))
            }
        }
        return paths.map { .init($0.path, .object($0.operations)) }
    }

    /// An operation as the table declares it, with the statuses `failures` of SP_EXECUTION_FAILED.
    static func operation(_ endpoint: Endpoint, failures: [(status: Int, keys: [String])] = []) -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("tags", .array([.string(endpoint.tag)])), .init("operationId", .string(endpoint.id.rawValue)),
            .init("summary", .string(endpoint.summary)),
        ]
        if endpoint.access != .anyone { members.append(.init("security", bearer)) }
        members.append(
            .init("parameters", .array(endpoint.parameters + [Components.ref("parameters/CorrelationID")])))
        if let body = endpoint.body {
            members.append(
                .init(
                    "requestBody",
                    .object([
                        "required": .bool(body.required),
                        "content": .object(["application/json": .object(["schema": body.schema])]),
                    ])))
        }
        var responses: [(String, JSONValue)] = [
            (
                String(endpoint.success.status),
                response(endpoint.success.description, endpoint.success.schema, endpoint.success.contentType)
            )
        ]
        for code in Set(endpoint.commonErrors + endpoint.errors) {
            responses.append((String(code.httpStatus), Components.ref("responses/\(Components.responseName(code))")))
        }
        let sorted = responses.sorted { $0.0 < $1.0 }.map { JSONValue.Member($0.0, $0.1) }
        members.append(.init("responses", .object(ExecutionFailures.merged(sorted, failures))))
        return .object(members)
    }

    /// A response with the correlation header and, when there is one, its body's schema.
    static func response(_ description: String, _ schema: JSONValue?, _ contentType: String = "application/json")
        -> JSONValue
    {
        var members: [JSONValue.Member] = [
            .init("description", .string(description)),
            .init("headers", .object(["X-Correlation-ID": Components.ref("headers/X-Correlation-ID")])),
        ]
        if let schema {
            members.append(.init("content", .object([.init(contentType, .object(["schema": schema]))])))
        }
        return .object(members)
    }
}
