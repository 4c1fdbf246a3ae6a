import Glibc
import SPOJSON

/// Every endpoint of the API, in the order the OpenAPI document lists them.
public enum EndpointTable {
    public static let all: [Endpoint] =
        execution + [
            Endpoint(
                .health, .get, "/api/health", .anyone, summary: "Liveness",
                success: .init(status: 200, description: "Alive", schema: ref("schemas/Health"))),
            Endpoint(
                .openAPIDocument, .get, "/api/openapi.json", .anyone,
                summary: "This document, generated from the live configuration",
                success: .init(
                    status: 200, description: "An OpenAPI 3.0.3 document", schema: .object(["type": .string("object")]))
            ),
            Endpoint(
                .servicesHealth, .get, "/api/health/services", .admin,
                summary: "Each connection's reachability, latency and breaker state",
                success: .init(status: 200, description: "Health by connection", schema: ref("schemas/ServicesHealth"))),
        ]
        + observability
        + collection(
            ids: (.listServices, .createService, .getService, .replaceService, .deleteService),
            path: "/api/services", item: "/api/services/{name}", schema: "ServiceDocument", parameter: "ServiceName",
            missing: .serviceNotFound,
            createNote: "With \"parameters\": \"discover\" they are read from the target database's catalog.")
        + collection(
            ids: (.listConnections, .createConnection, .getConnection, .replaceConnection, .deleteConnection),
            path: "/api/connections", item: "/api/connections/{name}", schema: "Connection",
            parameter: "ConnectionName", missing: .notFound,
            createNote: "The secret is referenced by password_from, never stored or returned.")
        + [
            Endpoint(
                .resetBreaker, .post, "/api/connections/{name}/breaker/reset", .admin,
                summary: "Closes the connection's circuit breaker on every worker, whatever its state",
                parameters: [ref("parameters/ConnectionName")],
                success: .init(status: 200, description: "Closed", schema: ref("schemas/BreakerState")),
                errors: [.notFound])
        ]
        + collection(
            ids: (.listRetryPolicies, .createRetryPolicy, .getRetryPolicy, .replaceRetryPolicy, .deleteRetryPolicy),
            path: "/api/retry-policies", item: "/api/retry-policies/{name}", schema: "RetryPolicy",
            parameter: "RetryPolicyName", missing: .notFound, createNote: nil)
        + audit
        + sagas

    /// The endpoint `method` and `path` name, found by walking the table (the execute path, nearly
    /// every request, takes a shorter way first).
    public static func match(method: String, path: String) -> EndpointMatch {
        if method == HTTPMethod.post.rawValue, let service = executedService(path) {
            return .found(executeService, arguments: [service])
        }
        let segments = path.split(separator: "/")
        // A literal segment wins over a parameter: `/api/executions/status` is that path's, not
        // the `{id}` of `/api/executions/{id}`, so only the paths with the fewest parameters count.
        var matches: [(endpoint: Endpoint, arguments: [String])] = []
        for endpoint in all {
            guard let arguments = endpoint.path.match(segments) else { continue }
            if let first = matches.first, first.arguments.count < arguments.count { continue }
            if let first = matches.first, first.arguments.count > arguments.count { matches.removeAll() }
            matches.append((endpoint, arguments))
        }
        var allowed: [String] = []
        var crossOrigin: Endpoint?
        for (endpoint, arguments) in matches {
            if endpoint.method.answers(method) { return .found(endpoint, arguments: arguments) }
            allowed.append(endpoint.method.rawValue)
            if endpoint.method == .get { allowed.append(HTTPMethod.head.rawValue) }
            if endpoint.isCrossOrigin { crossOrigin = endpoint }
        }
        if allowed.isEmpty { return .notFound }
        // Browsers send a CORS preflight before calling these across origins: OPTIONS is one of
        // their methods, answered by the handler (with or without a CORS policy).
        if let crossOrigin {
            allowed.append(Self.options)
            if method == Self.options { return .preflight(crossOrigin, allowed: allowed.joined(separator: ", ")) }
        }
        return .methodNotAllowed(allowed: allowed.joined(separator: ", "))
    }

    /// The method of a CORS preflight; not an `HTTPMethod`, since no endpoint is declared with it.
    static let options = "OPTIONS"

    /// The endpoint named `id`.
    public static func endpoint(_ id: Endpoint.ID) -> Endpoint {
        guard let endpoint = all.first(where: { $0.id == id }) else {
            preconditionFailure("endpoint \(id) is not in the table")
        }
        return endpoint
    }

    private static let executeService = endpoint(.executeService)

    /// The `{name}` of `/api/services/{name}/execute`, found without splitting the path: nearly
    /// every request takes this route, and splitting showed in profiles. Other spellings of the
    /// path (doubled slashes) take the general way.
    static func executedService(_ path: String) -> String? {
        var path = path
        return path.withUTF8 { bytes -> String? in
            let (prefix, suffix) = (executePrefix, executeSuffix)
            guard bytes.count > prefix.count + suffix.count,
                memcmp(bytes.baseAddress!, prefix, prefix.count) == 0,
                memcmp(bytes.baseAddress! + bytes.count - suffix.count, suffix, suffix.count) == 0
            else { return nil }
            let name = UnsafeBufferPointer(rebasing: bytes[prefix.count..<bytes.count - suffix.count])
            guard !name.contains(UInt8(ascii: "/")) else { return nil }
            return String(decoding: name, as: UTF8.self)
        }
    }

    private static let executePrefix = Array("/api/services/".utf8)
    private static let executeSuffix = Array("/execute".utf8)

    private static func ref(_ path: String) -> JSONValue { OpenAPIDocument.Components.ref(path) }
}

// MARK: - The declarations

extension EndpointTable {
    /// The two ways to run a service. OpenAPI spells the first out once per enabled service, with
    /// the request and response schemas of its configuration.
    static let execution: [Endpoint] = [
        Endpoint(
            .executeEnvelope, .post, "/api/execute", .service, tag: "services",
            summary: "Runs the service named in the body",
            body: .init(schema: .object([:]), required: true),
            success: .init(status: 200, description: "Executed", schema: ref("schemas/ExecutionResult")),
            errors: executionErrors),
        Endpoint(
            .executeService, .post, "/api/services/{name}/execute", .service, tag: "services",
            summary: "Runs the service", parameters: [ref("parameters/ServiceName")],
            body: .init(schema: .object([:]), required: false),
            success: .init(status: 200, description: "Executed", schema: ref("schemas/ExecutionResult")),
            errors: executionErrors),
    ]

    /// The pool's counters: for Prometheus (no key; nginx lets only local and private addresses
    /// through) and, as JSON, for the admin page.
    static let observability: [Endpoint] = [
        Endpoint(
            .metrics, .get, "/metrics", .anyone,
            summary: "The pool's counters in Prometheus text format, summed over every worker",
            success: .init(
                status: 200, description: "Prometheus text exposition format 0.0.4",
                schema: .object(["type": .string("string")]), contentType: "text/plain")),
        Endpoint(
            .stats, .get, "/api/stats", .admin,
            summary: "The pool's counters as JSON (the same as /metrics): totals since the pool started",
            success: .init(status: 200, description: "The counters", schema: OpenAPIDocument.Components.stats)),
    ]

    /// What an execution can end in, besides the errors every caller can get.
    static let executionErrors: [APIError.Code] = [
        .invalidParameters, .serviceNotFound, .payloadTooLarge, .unsupportedMediaType, .spExecutionFailed,
        .dbConnectionFailed, .timeout,
    ]

    /// `GET/POST path` and `GET/PUT/DELETE item` over one document schema.
    static func collection(
        ids: (list: Endpoint.ID, create: Endpoint.ID, get: Endpoint.ID, replace: Endpoint.ID, delete: Endpoint.ID),
        path: PathPattern, item: PathPattern, schema: String, parameter: String, missing: APIError.Code,
        createNote: String?
    ) -> [Endpoint] {
        let document = ref("schemas/\(schema)")
        let name = ref("parameters/\(parameter)")
        let written: [APIError.Code] = [.invalidParameters, .conflict, .payloadTooLarge, .unsupportedMediaType]
        let list: JSONValue = .object([
            "type": .string("object"), "required": .array([.string("items")]),
            "properties": .object(["items": .object(["type": .string("array"), "items": document])]),
        ])
        return [
            Endpoint(
                ids.list, .get, path, .admin, summary: "Lists them",
                success: .init(status: 200, description: "The list", schema: list)),
            Endpoint(
                ids.create, .post, path, .admin, summary: "Creates one" + (createNote.map { ". " + $0 } ?? ""),
                body: .init(schema: document, required: true),
                success: .init(status: 201, description: "Created", schema: document), errors: written),
            Endpoint(
                ids.get, .get, item, .admin, summary: "One by name", parameters: [name],
                success: .init(status: 200, description: "Found", schema: document), errors: [missing]),
            Endpoint(
                ids.replace, .put, item, .admin,
                summary: "Creates or replaces one. A document read with GET can be sent back as it is; its "
                    + "version (services) makes the change conditional: 409 if it changed since, 404 if it is gone",
                parameters: [name], body: .init(schema: document, required: true),
                success: .init(status: 200, description: "Replaced", schema: document), errors: written + [missing]),
            Endpoint(
                ids.delete, .delete, item, .admin, summary: "Deletes one (409 while services use it)",
                parameters: [name], success: .init(status: 204, description: "Deleted", schema: nil),
                errors: [missing, .conflict]),
        ]
    }

    /// The most ids one `POST /api/executions/status` may ask about.
    public static let executionStatusLimit = 100

    /// Executions and errors: read-only, but for reprocessing.
    static var audit: [Endpoint] {
        let id = ref("parameters/ExecutionID")
        func query(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
            .object([
                "name": .string(name), "in": .string("query"), "required": .bool(false),
                "description": .string(description), "schema": schema,
            ])
        }
        let dateTime: JSONValue = .object(["type": .string("string"), "format": .string("date-time")])
        let reprocessBody: JSONValue = .object([
            "type": .string("object"), "additionalProperties": .bool(false),
            "properties": .object([
                "reason": .object(["type": .string("string"), "description": .string("Why it is run again")]),
                "parameters": .object([
                    "type": .string("object"),
                    "description": .string("Parameters to use instead of the original ones"),
                ]),
                "force": .object([
                    "type": .string("boolean"), "default": .bool(false),
                    "description": .string(
                        "Run it again although it succeeded, was rejected or was reprocessed already"),
                ]),
            ]),
        ])
        return [
            Endpoint(
                .listExecutions, .get, "/api/executions", .admin,
                summary: "Executions, a page at a time (cursor pagination)",
                parameters: [
                    query("service", "Only this service's", .object(["type": .string("string")])),
                    query("status", "Only those that ended so", ref("schemas/ExecutionStatus")),
                    query("since", "Started at or after", dateTime),
                    query("until", "Started before", dateTime),
                    query("limit", "Page size", .object(["type": .string("integer"), "minimum": .number(1)])),
                    query("cursor", "next_cursor of the previous page", .object(["type": .string("string")])),
                ],
                success: .init(status: 200, description: "One page", schema: ref("schemas/ExecutionPage")),
                errors: [.invalidParameters]),
            Endpoint(
                .getExecution, .get, "/api/executions/{id}", .caller,
                summary: "One execution. Admin keys: any, with its attempts, errors and reprocessing history. Other "
                    + "callers: the asynchronous executions they queued, with status and, once done, data or error",
                parameters: [id],
                success: .init(status: 200, description: "Found", schema: ref("schemas/Execution")),
                errors: [.notFound, .dbConnectionFailed]),
            Endpoint(
                .executionStatuses, .post, "/api/executions/status", .caller,
                summary: "The status of each listed execution (at most \(executionStatusLimit) ids); null for one "
                    + "that does not exist or that the caller may not read",
                body: .init(schema: ref("schemas/ExecutionStatusRequest"), required: true),
                success: .init(
                    status: 200, description: "In the order asked", schema: ref("schemas/ExecutionStatuses")),
                errors: [.invalidParameters, .payloadTooLarge, .unsupportedMediaType, .dbConnectionFailed]),
            Endpoint(
                .reprocessExecution, .post, "/api/executions/{id}/reprocess", .admin,
                summary: "Runs an execution again, linked both ways to the original", parameters: [id],
                body: .init(schema: reprocessBody, required: false),
                success: .init(status: 200, description: "Executed again", schema: ref("schemas/ExecutionResult")),
                // The re-run can fail like any execution.
                errors: [
                    .invalidParameters, .notFound, .conflict, .payloadTooLarge, .unsupportedMediaType,
                    .spExecutionFailed, .timeout,
                ]),
            Endpoint(
                .getError, .get, "/api/errors/{reference}", .admin,
                summary: "One error by the reference a client was given",
                parameters: [ref("parameters/ErrorReference")],
                success: .init(status: 200, description: "Found", schema: ref("schemas/ErrorRecord")),
                errors: [.notFound]),
        ]
    }
}
