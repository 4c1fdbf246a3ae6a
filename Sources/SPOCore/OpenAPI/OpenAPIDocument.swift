import SPOJSON

/// The OpenAPI 3.0.3 description of the whole API, generated from one configuration snapshot.
///
/// Every enabled service is a path of its own whose request schema comes from its input
/// parameters and whose response schema comes from its result shape, so client generators get a
/// typed call per service. The document is a pure function of the configuration with every list
/// in a fixed order: two calls on the same snapshot produce the same text.
public enum OpenAPIDocument {
    /// The OpenAPI version written. 3.0.3 rather than 3.1: more client generators read it.
    public static let openAPIVersion = "3.0.3"

    /// The document for `configuration`: its enabled services (sorted by name), the envelope
    /// form of execution, health, this document itself and the administration endpoints.
    ///
    /// `serverURL` becomes the only server; without it the server is `/`, so the paths resolve
    /// against wherever the document was fetched from. With a `caller`, only what that caller may
    /// call: anonymous callers see the public services and endpoints, an executor key its grants.
    public static func make(_ configuration: Configuration, serverURL: String? = nil, for caller: Principal? = nil)
        -> JSONValue
    {
        var operations = OpenAPIOperationCache.none
        return make(configuration, serverURL: serverURL, for: caller, operations: &operations)
    }

    /// The same document, with the services' operations taken from `operations` where their
    /// definitions did not change (and kept there for the next rendering): the same text.
    public static func make(
        _ configuration: Configuration, serverURL: String? = nil, for caller: Principal? = nil,
        operations: inout OpenAPIOperationCache
    ) -> JSONValue {
        let services = configuration.services.values.filter { $0.enabled && caller?.mayCall($0) != false }
            .sorted { $0.name < $1.name }
        defer { operations.finishRendering(of: configuration) }
        let paths = self.paths(services, operations: &operations) { endpoint in
            guard let caller else { return true }
            // Without a service to call, the envelope form is of no use to the caller.
            return caller.mayCall(endpoint) && (endpoint.access != .service || !services.isEmpty)
        }
        return .object([
            "openapi": .string(openAPIVersion),
            "info": .object([
                "title": .string("SPOrchestrator"), "version": .string("1"),
                "description": .string(
                    "PostgreSQL stored procedures and functions registered in the control database, served as JSON "
                        + "endpoints. This document is generated from the live configuration on every request: a "
                        + "service added, changed or disabled shows here on the next one."),
            ]),
            "servers": .array([.object(["url": .string(serverURL ?? "/")])]),
            "tags": .array([
                .object([
                    "name": .string("services"),
                    "description": .string("One path per enabled service, typed from its configuration"),
                ]),
                .object([
                    "name": .string("administration"),
                    "description": .string("Services, connections, retry policies, executions and errors"),
                ]),
            ]),
            "paths": .object(paths),
            "components": Components.all,
        ])
    }
}

// MARK: - Execution paths

extension OpenAPIDocument {
    /// `POST /api/services/{name}/execute`, spelled out for one service.
    /// A parallel service passes its `composite` schemas (`parallelSchemas`).
    static func executePath(
        _ service: ServiceDefinition, composite: (data: JSONValue, meta: JSONValue, explanation: String)? = nil
    ) -> JSONValue {
        let inputs = service.parameters.filter { $0.direction.isInput }
        var body: [JSONValue.Member] = [
            .init("type", .string("object")),
            // The validator rejects unknown and output-only members, so the schema does too.
            .init("additionalProperties", .bool(false)),
            .init("properties", .object(inputs.map { .init($0.name, ParameterSchema.input($0)) })),
        ]
        let required = inputs.filter(\.required).map { JSONValue.string($0.name) }
        // OpenAPI 3.0 forbids an empty `required` list.
        if !required.isEmpty { body.append(.init("required", .array(required))) }
        let summary = service.description.isEmpty ? "Runs \(service.name)" : service.description
        let operation: JSONValue = .object([
            "tags": .array([.string("services")]),
            "operationId": .string("execute_\(service.name)"),
            "summary": .string(summary),
            "description": .string(
                "\(composite?.explanation ?? ResultSchema.explanation(service)) Times out after \(service.timeoutMilliseconds) ms; the "
                    + "statement is then cancelled in the database."),
            "security": service.isPublic ? bearerOrNone : bearer,
            "parameters": .array(Idempotency.headers(service)),
            "requestBody": .object([
                "description": .string("The input parameters by name; an empty body is the same as {}"),
                "required": .bool(false),
                "content": .object(["application/json": .object(["schema": .object(body)])]),
            ]),
            "responses": executionResponses(
                envelope(
                    service: .object(["type": .string("string"), "enum": .array([.string(service.name)])]),
                    data: composite?.data ?? ResultSchema.data(service), meta: composite?.meta),
                failures: service.errorStatuses.reachableStatuses),
        ])
        return .object(["post": operation])
    }

    /// `POST /api/execute`: the service named in the body, its parameters beside it.
    static func envelopePath(_ services: [ServiceDefinition]) -> JSONValue {
        var name: [JSONValue.Member] = [
            .init("type", .string("string")), .init("description", .string("The name of an enabled service")),
        ]
        // OpenAPI 3.0 forbids an empty `enum`; with no service enabled every name is answered 404.
        if !services.isEmpty { name.append(.init("enum", .array(services.map { .string($0.name) }))) }
        let body: JSONValue = .object([
            "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("service")]),
            "properties": .object([
                "service": .object(name),
                "parameters": .object([
                    "type": .string("object"),
                    "description": .string(
                        "The service's input parameters, as its own path documents them; omitted means {}"),
                ]),
            ]),
        ])
        let operation: JSONValue = .object([
            "tags": .array([.string("services")]),
            "operationId": .string("executeEnvelope"),
            "summary": .string("Runs the service named in the body"),
            "description": .string(
                "The same execution as POST /api/services/{name}/execute, with the service named in the body. The "
                    + "shape of data is that of the service's own path."),
            "security": services.contains(where: \.isPublic) ? bearerOrNone : bearer,
            "parameters": .array(executionHeaders),
            "requestBody": .object([
                "required": .bool(true),
                "content": .object(["application/json": .object(["schema": body])]),
            ]),
            "responses": executionResponses(
                Components.ref("schemas/ExecutionResult"), failures: ExecutionFailures.union(services)),
        ])
        return .object(["post": operation])
    }

    /// An API key (`Authorization: Bearer <key>`); health and this document stay public.
    static let bearer: JSONValue = .array([.object(["bearerAuth": .array([])])])

    /// A public service: callable without a key, or with one (`{}` is "no security").
    static let bearerOrNone: JSONValue = .array([.object([:]), .object(["bearerAuth": .array([])])])

    /// The request headers every execution reads.
    static let executionHeaders: [JSONValue] = [
        Components.ref("parameters/CorrelationID"), Components.ref("parameters/IdempotencyKey"),
        Components.ref("parameters/Prefer"),
    ]

    /// The success envelope of SPEC §4 around a `data` schema.
    static func envelope(service: JSONValue, data: JSONValue, meta: JSONValue? = nil) -> JSONValue {
        var schema: JSONValue = .object([
            "type": .string("object"),
            "required": .array(
                ["execution_id", "service", "status", "attempts", "duration_ms", "data"].map(JSONValue.string)),
            "properties": .object([
                "execution_id": .object(["type": .string("string"), "format": .string("uuid")]),
                "service": service,
                "status": .object([
                    "type": .string("string"), "enum": .array([.string(ExecutionStatus.succeeded.rawValue)]),
                ]),
                "attempts": .object([
                    "type": .string("integer"), "minimum": .number(1),
                    "description": .string("Attempts made, retries included"),
                ]),
                "duration_ms": .object(["type": .string("number"), "minimum": .number(0)]),
                "data": data,
            ]),
        ])
        if let meta, case .object(var fields) = schema,
            let index = fields.firstIndex(where: { $0.key == "properties" }),
            case .object(var properties) = fields[index].value
        {
            properties.append(.init("meta", meta))
            fields[index].value = .object(properties)
            schema = .object(fields)
        }
        return schema
    }

    /// 200 with `schema`, and every error an execution can end in: `failures` are the statuses
    /// of `SP_EXECUTION_FAILED` (`SQLStateStatusMap.reachableStatuses`).
    static func executionResponses(_ schema: JSONValue, failures: [(status: Int, keys: [String])]) -> JSONValue {
        let responses: [JSONValue.Member] = [
            .init(
                "200",
                .object([
                    "description": .string("Executed"),
                    "headers": .object([
                        "X-Execution-ID": Components.ref("headers/X-Execution-ID"),
                        "X-Correlation-ID": Components.ref("headers/X-Correlation-ID"),
                    ]),
                    "content": .object(["application/json": .object(["schema": schema])]),
                ])),
            .init(
                "202",
                .object([
                    "description": .string(
                        "Queued (Prefer: respond-async): the input was valid; poll Location for the outcome"),
                    "headers": .object([
                        "Location": Components.ref("headers/Location"),
                        "Preference-Applied": Components.ref("headers/Preference-Applied"),
                        "X-Execution-ID": Components.ref("headers/X-Execution-ID"),
                        "X-Correlation-ID": Components.ref("headers/X-Correlation-ID"),
                    ]),
                    "content": .object(["application/json": .object(["schema": Components.ref("schemas/Accepted")])]),
                ])),
        ]
        let fixed = [
            ("400", "InvalidParameters"), ("401", "Unauthorized"), ("403", "Forbidden"), ("404", "ServiceNotFound"),
            ("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType"), ("429", "RateLimited"),
            ("500", "InternalError"),
            ("502", "ExecutionFailed"), ("503", "DatabaseUnavailable"), ("504", "Timeout"),
        ].map { JSONValue.Member($0.0, Components.ref("responses/\($0.1)")) }
        return .object(ExecutionFailures.merged(Idempotency.responses(responses + fixed), failures))
    }
}
