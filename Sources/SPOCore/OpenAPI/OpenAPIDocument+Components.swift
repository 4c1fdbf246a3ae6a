import SPOJSON

// MARK: - Components

extension OpenAPIDocument {
    /// The shared parts: schemas, error responses, parameters, headers and the security scheme.
    enum Components {
        /// `{"$ref": "#/components/<path>"}`.
        static func ref(_ path: String) -> JSONValue { .object(["$ref": .string("#/components/" + path)]) }

        static let all: JSONValue = .object([
            "schemas": .object((schemas.members ?? []) + sagaSchemas), "responses": responses, "parameters": parameters,
            "headers": headers,
            "securitySchemes": .object([
                "bearerAuth": .object([
                    "type": .string("http"), "scheme": .string("bearer"),
                    "description": .string(
                        "An API key: Authorization: Bearer <key>. While no key exists at all, the API is open."),
                ])
            ]),
        ])

        // MARK: Schema shorthands

        private static func typed(
            _ type: String, _ description: String? = nil, format: String? = nil, nullable: Bool = false,
            extra: [JSONValue.Member] = []
        ) -> JSONValue {
            var members: [JSONValue.Member] = [.init("type", .string(type))]
            if let format { members.append(.init("format", .string(format))) }
            if let description { members.append(.init("description", .string(description))) }
            if nullable { members.append(.init("nullable", .bool(true))) }
            return .object(members + extra)
        }

        private static func object(
            _ properties: [JSONValue.Member], required: [String] = [], closed: Bool = false, description: String? = nil
        ) -> JSONValue {
            var members: [JSONValue.Member] = [.init("type", .string("object"))]
            if let description { members.append(.init("description", .string(description))) }
            if !required.isEmpty { members.append(.init("required", .array(required.map(JSONValue.string)))) }
            // Closed where the server rejects unknown fields (the configuration documents).
            if closed { members.append(.init("additionalProperties", .bool(false))) }
            members.append(.init("properties", .object(properties)))
            return .object(members)
        }

        private static func integer(_ description: String?, _ range: ClosedRange<Int>, default value: Int) -> JSONValue
        {
            typed(
                "integer", description,
                extra: [
                    .init("minimum", .number(range.lowerBound)), .init("maximum", .number(range.upperBound)),
                    .init("default", .number(value)),
                ])
        }

        private static func stringEnum(_ values: [String], _ description: String? = nil) -> JSONValue {
            typed("string", description, extra: [.init("enum", .array(values.map(JSONValue.string)))])
        }

        private static let namePattern = "^[a-z][a-z0-9_-]{0,62}$"

        private static func name(_ description: String) -> JSONValue {
            typed("string", description, extra: [.init("pattern", .string(namePattern))])
        }

        // MARK: Schemas

        static let schemas: JSONValue = .object([
            "Error": object(
                [
                    .init(
                        "error",
                        object(
                            [
                                .init(
                                    "code",
                                    stringEnum(
                                        APIError.Code.allCases.map(\.rawValue), "Stable; the HTTP status follows it")),
                                .init("message", typed("string", "For humans")),
                                .init(
                                    "reference",
                                    typed(
                                        "string", "The id of the recorded error (GET /api/errors/{reference})",
                                        format: "uuid", nullable: true)),
                                .init(
                                    "details",
                                    typed(
                                        "array", "What exactly went wrong, e.g. each rejected parameter and why",
                                        extra: [.init("items", .object(["type": .string("object")]))])),
                            ], required: ["code", "message", "reference", "details"]))
                ], required: ["error"], description: "The one shape of every error"),
            "ExecutionResult": OpenAPIDocument.envelope(
                service: typed("string"),
                data: .object(["description": .string("Shaped as documented on the service's own path")])),
            "ExecutionStatus": stringEnum(ExecutionStatus.allCases.map(\.rawValue)),
            "Execution": object(
                [
                    .init("id", typed("string", format: "uuid")),
                    .init("service", typed("string")),
                    .init("parameters", .object(["description": .string("The effective parameters")])),
                    .init("status", ref("schemas/ExecutionStatus")),
                    .init("http_status", typed("integer", nullable: true)),
                    .init("error_code", typed("string", nullable: true)),
                    .init("attempts", typed("integer")),
                    .init("duration_ms", typed("number", nullable: true)),
                    .init("user", typed("string")),
                    .init("correlation_id", typed("string", nullable: true)),
                    .init("idempotency_key", typed("string", nullable: true)),
                    .init(
                        "reprocess_of", typed("string", "The execution this one re-ran", format: "uuid", nullable: true)
                    ),
                    .init("started_at", typed("string", format: "date-time")),
                    .init("finished_at", typed("string", format: "date-time", nullable: true)),
                    .init(
                        "attempt_log",
                        typed(
                            "array", "Each attempt: outcome, SQLSTATE, timings",
                            extra: [.init("items", ref("schemas/Attempt"))])),
                    .init("errors", typed("array", extra: [.init("items", ref("schemas/ErrorRecord"))])),
                    .init(
                        "reprocessed_as",
                        typed(
                            "array", "Re-runs of this execution (detail only)",
                            extra: [.init("items", .object(["type": .string("object")]))])),
                    .init(
                        "reprocessing_of",
                        typed("object", "The re-run this execution is (detail only)", nullable: true)),
                    .init(
                        "data",
                        .object([
                            "description": .string(
                                "An asynchronous execution's result once it succeeded (null before), shaped as "
                                    + "documented on the service's own path")
                        ])),
                    .init(
                        "error",
                        typed(
                            "object", "An asynchronous execution's error once it failed (its queuer's view)",
                            nullable: true)),
                ], required: ["id", "service", "status"]),
            "Accepted": object(
                [
                    .init("execution_id", typed("string", "Poll GET /api/executions/{id}", format: "uuid")),
                    .init("service", typed("string")),
                    .init("status", stringEnum([ExecutionStatus.queued.rawValue])),
                ], required: ["execution_id", "service", "status"],
                description: "Queued (Prefer: respond-async); Location names the execution to poll"),
            "ExecutionStatusRequest": object(
                [
                    .init(
                        "ids",
                        typed(
                            "array",
                            extra: [
                                .init("items", typed("string", format: "uuid")), .init("minItems", .number(1)),
                                .init("maxItems", .number(EndpointTable.executionStatusLimit)),
                            ]))
                ], required: ["ids"], closed: true),
            "ExecutionStatuses": object(
                [
                    .init(
                        "items",
                        typed(
                            "array",
                            extra: [
                                .init(
                                    "items",
                                    object(
                                        [
                                            .init("execution_id", typed("string", format: "uuid")),
                                            .init(
                                                "status",
                                                typed(
                                                    "string", "Null: no such execution, or not the caller's",
                                                    nullable: true,
                                                    extra: [
                                                        .init(
                                                            "enum",
                                                            .array(
                                                                ExecutionStatus.allCases.map { .string($0.rawValue) }
                                                                    + [.null]))
                                                    ])),
                                        ], required: ["execution_id", "status"]))
                            ]))
                ], required: ["items"]),
            "Attempt": object(
                [
                    .init("attempt", typed("integer", "1 for the first")),
                    .init("outcome", stringEnum(AttemptOutcome.allCases.map(\.rawValue))),
                    .init("sqlstate", typed("string", nullable: true)),
                    .init("message", typed("string", nullable: true)),
                    .init("offset_ms", typed("number", "When it began, after the execution's start")),
                    .init("connect_ms", typed("number", "Connecting (0 with a kept connection)")),
                    .init("execute_ms", typed("number")),
                    .init("worker_pid", typed("integer", "The worker process that ran it")),
                ], required: ["attempt", "outcome"]),
            "ExecutionPage": object(
                [
                    .init("items", typed("array", extra: [.init("items", ref("schemas/Execution"))])),
                    .init(
                        "next_cursor",
                        typed("string", "Pass as cursor for the next page; null on the last", nullable: true)),
                ], required: ["items", "next_cursor"]),
            "ErrorRecord": object(
                [
                    .init("reference", typed("string", format: "uuid")),
                    .init("execution_id", typed("string", format: "uuid", nullable: true)),
                    .init("service_name", typed("string", nullable: true)),
                    .init("code", typed("string")),
                    .init("http_status", typed("integer")),
                    .init("sqlstate", typed("string", nullable: true)),
                    .init("message", typed("string")),
                    .init("detail", .object(["description": .string("The details of the error")])),
                    .init("created_at", typed("string", format: "date-time")),
                    .init("correlation_id", typed("string", "The request's X-Correlation-ID", nullable: true)),
                ], required: ["reference", "code", "message"]),
            "ServiceDocument": object(
                [
                    .init(
                        "id",
                        typed("integer", "Assigned by the server", extra: [.init("readOnly", .bool(true))])),
                    .init("name", name("Also the URL segment: /api/services/{name}/execute")),
                    .init("description", typed("string", extra: [.init("default", .string(""))])),
                    .init(
                        "kind",
                        typed(
                            "string",
                            extra: [
                                .init(
                                    "enum",
                                    .array([.string("procedure"), .string("parallel"), .string("saga")])),
                                .init("default", .string("procedure")),
                            ])),
                    .init("connection", typed("string", "The name of a connection")),
                    .init(
                        "procedure",
                        typed("string", "schema.name, with an argument list when the name is overloaded")),
                    .init(
                        "parameters",
                        .object([
                            "oneOf": .array([
                                typed("array", extra: [.init("items", ref("schemas/ServiceParameter"))]),
                                stringEnum(["discover"], "Read them from the target database's catalog"),
                            ])
                        ])),
                    .init("timeout_ms", integer(nil, 1...3_600_000, default: 30_000)),
                    .init("retry_policy", typed("string", "The name of a retry policy", nullable: true)),
                    .init(
                        "errors",
                        typed(
                            "object",
                            "The status of SP_EXECUTION_FAILED by SQLSTATE (5 characters) or class (2), over the "
                                + "default table",
                            extra: [
                                .init(
                                    "additionalProperties",
                                    typed(
                                        "integer",
                                        extra: [.init("minimum", .number(400)), .init("maximum", .number(599))]))
                            ])),
                    .init("enabled", typed("boolean", extra: [.init("default", .bool(true))])),
                    .init(
                        "idempotent",
                        typed(
                            "boolean", "Running it twice is the same as once: retried even after a lost connection",
                            extra: [.init("default", .bool(false))])),
                    .init(
                        "public",
                        typed(
                            "boolean", "Callable without an API key (every other service needs one)",
                            extra: [.init("default", .bool(false))])),
                    .init(
                        "idempotency",
                        typed(
                            "string", "required: calls without an Idempotency-Key are refused with 400",
                            extra: [
                                .init("enum", .array(IdempotencyMode.allCases.map { .string($0.rawValue) })),
                                .init("default", .string(IdempotencyMode.optional.rawValue)),
                            ])),
                    .init(
                        "idempotency_ttl_s",
                        typed(
                            "integer", "How long an Idempotency-Key is kept after its first request, in seconds",
                            extra: [
                                .init("minimum", .number(1)), .init("maximum", .number(IdempotencyMode.maxTTLSeconds)),
                                .init("default", .number(IdempotencyMode.defaultTTLSeconds)),
                            ])),
                    .init(
                        "result_shape",
                        typed(
                            "string", "Found in the catalog: decides the shape of data",
                            extra: [
                                .init(
                                    "enum",
                                    .array([.string("set"), .string("scalar"), .string("void"), .string("procedure")])),
                                .init("readOnly", .bool(true)),
                            ])),
                    .init(
                        "version",
                        typed(
                            "integer", "Raised by every change of the service",
                            extra: [.init("readOnly", .bool(true))])),
                    .init(
                        "members",
                        typed(
                            "array", "kind parallel: the services run at once (README, Composite services)",
                            extra: [
                                .init(
                                    "items",
                                    object(
                                        [
                                            .init("name", name("The key of the member's data in the answer")),
                                            .init("service", name("A procedure service")),
                                            .init("parameters", typed("object", "Member parameter → path or literal")),
                                            .init("required", typed("boolean", extra: [.init("default", .bool(true))])),
                                            .init("timeout_ms", integer(nil, 1...3_600_000, default: 30_000)),
                                        ], required: ["name", "service"], closed: true))
                            ])),
                    .init(
                        "steps",
                        typed(
                            "array",
                            "kind saga: the steps in order, each {name, service, parameters, compensation: {service, "
                                + "parameters}} (compensation required on every step but the last)",
                            extra: [.init("items", typed("object"))])),
                ], required: ["name"], closed: true,
                description:
                    "The service document (also the format of spo services import|export); connection and procedure "
                    + "for kind procedure, members for kind parallel, steps for kind saga"),
            "ServiceParameter": object(
                [
                    .init(
                        "name", typed("string", "The argument's name; arg1, arg2, … (its position) when it has none")),
                    .init(
                        "type",
                        typed(
                            "string",
                            "A PostgreSQL type: " + SQLType.Base.allCases.map(\.rawValue).joined(separator: ", ")
                                + ", or a one-dimensional array of one (integer[])")),
                    .init(
                        "direction",
                        typed(
                            "string",
                            extra: [
                                .init("enum", .array([.string("IN"), .string("OUT"), .string("INOUT")])),
                                .init("default", .string("IN")),
                            ])),
                    .init("required", typed("boolean", extra: [.init("default", .bool(false))])),
                    .init("default", .object(["description": .string("Used when a client omits the parameter")])),
                    .init("minimum", typed("number")),
                    .init("maximum", typed("number")),
                    .init(
                        "maxLength",
                        typed("integer", "Characters, or elements for an array", extra: [.init("minimum", .number(0))])),
                    .init("pattern", typed("string", "A regular expression the whole value must match")),
                    .init("enum", typed("array", "The allowed values", extra: [.init("items", .object([]))])),
                    .init("description", typed("string")),
                    .init(
                        "sensitive",
                        typed(
                            "boolean",
                            "The value is redacted in the audit, logs and journals; reprocessing needs it sent again",
                            extra: [.init("default", .bool(false))])),
                ], required: ["name", "type"], closed: true),
            "Connection": object(
                [
                    .init("name", name("The name services refer to")),
                    .init("conninfo", typed("string", "A libpq connection string or URI, without a password")),
                    .init(
                        "password_from",
                        typed(
                            "string",
                            "Where the password comes from, never the password itself: "
                                + SecretReference.forms(under: .current), nullable: true,
                            extra: [.init("pattern", .string("^(env:.+|file:.+|pgpass)$"))])),
                    .init("description", typed("string", extra: [.init("default", .string(""))])),
                    .init("breaker", breakerSettings),
                    .init("breaker_state", ref("schemas/BreakerState")),
                ], required: ["name", "conninfo"], closed: true,
                description: "A target database; never carries a secret. breaker_state is answered, ignored when sent"),
            "BreakerState": breakerState,
            "RetryPolicy": object(
                [
                    .init("name", name("The name services refer to")),
                    .init("max_attempts", integer("Attempts in all, the first included", 1...20, default: 3)),
                    .init("initial_backoff_ms", integer(nil, 0...60_000, default: 50)),
                    .init(
                        "multiplier",
                        typed(
                            "number",
                            extra: [
                                .init("minimum", .number(1)), .init("maximum", .number(10)),
                                .init("default", .number(2)),
                            ])),
                    .init("max_backoff_ms", integer(nil, 0...600_000, default: 2000)),
                    .init(
                        "jitter",
                        typed(
                            "number", "Fraction of each delay that is randomised",
                            extra: [
                                .init("minimum", .number(0)), .init("maximum", .number(1)),
                                .init("default", .number("0.2")),
                            ])),
                    .init(
                        "retryable_sqlstates",
                        typed(
                            "array",
                            "SQLSTATEs (5 characters) or classes (2); business and data errors are never retried",
                            extra: [
                                .init(
                                    "items",
                                    typed("string", extra: [.init("pattern", .string("^[0-9A-Z]{2}([0-9A-Z]{3})?$"))])
                                ),
                                .init("default", .array(RetryPolicy.transientSQLStates.map(JSONValue.string))),
                            ])),
                ], required: ["name"], closed: true),
            "Health": object(
                [.init("status", stringEnum(["ok"])), .init("services", typed("integer", "Services configured"))],
                required: ["status", "services"]),
            "ServicesHealth": object(
                [
                    .init(
                        "items",
                        typed(
                            "array",
                            extra: [
                                .init(
                                    "items",
                                    object([
                                        .init("connection", typed("string")),
                                        .init("reachable", typed("boolean")),
                                        .init("latency_ms", typed("number", nullable: true)),
                                        .init("error", typed("string", "Why it is unreachable")),
                                        .init("breaker_state", ref("schemas/BreakerState")),
                                    ]))
                            ]))
                ], description: "Each connection's reachability, latency and circuit breaker"),
        ])

        /// A connection's `breaker` member: every field optional, with its default.
        private static let breakerSettings: JSONValue = object(
            [
                .init(
                    "enabled",
                    typed("boolean", "False: calls are never refused", extra: [.init("default", .bool(true))])),
                .init(
                    "failure_rate_threshold",
                    integer(
                        "Percentage of infrastructure failures in the window that opens the breaker",
                        BreakerSettings.thresholdRange, default: BreakerSettings().failureRateThreshold)),
                .init(
                    "window_calls",
                    integer(
                        "The latest calls (attempts) the failure rate is computed over, per worker",
                        BreakerSettings.windowRange, default: BreakerSettings().windowCalls)),
                .init(
                    "minimum_calls",
                    integer(
                        "Calls the window must hold before the rate counts (at most window_calls)",
                        BreakerSettings.windowRange, default: BreakerSettings().minimumCalls)),
                .init(
                    "open_ms",
                    integer(
                        "How long calls are refused before probes test the database", BreakerSettings.openRange,
                        default: BreakerSettings().openMilliseconds)),
                .init(
                    "half_open_probes",
                    integer(
                        "Probe calls at once, pool-wide, while half-open; that many successes close it",
                        BreakerSettings.probesRange, default: BreakerSettings().halfOpenProbes)),
            ], closed: true,
            description: "The circuit breaker: only infrastructure failures count (connection, timeout, SQLSTATE 08/57)"
        )

        /// A connection's breaker as the pool shares it.
        private static let breakerState: JSONValue = object(
            [
                .init("state", stringEnum(BreakerState.allCases.map(\.rawValue))),
                .init("retry_after_s", typed("integer", "Seconds until probes may be made", nullable: true)),
                .init("opened_at", typed("string", format: "date-time", nullable: true)),
                .init("changed_at", typed("string", format: "date-time", nullable: true)),
                .init("changed_by", typed("string", "The worker, or the admin key that reset it", nullable: true)),
                .init("reason", typed("string", nullable: true)),
                .init("probes_in_flight", typed("integer")),
                .init("probes_succeeded", typed("integer")),
            ],
            required: [
                "state", "retry_after_s", "opened_at", "changed_at", "changed_by", "reason", "probes_in_flight",
                "probes_succeeded",
            ], description: "A circuit breaker's shared state; read-only")

        // MARK: Responses

        /// The name of the error response for `code` under `#/components/responses/`.
        static func responseName(_ code: APIError.Code) -> String {
            switch code {
            case .invalidParameters: "InvalidParameters"
            case .serviceNotFound: "ServiceNotFound"
            case .spExecutionFailed: "ExecutionFailed"
            case .dbConnectionFailed: "DatabaseUnavailable"
            case .timeout: "Timeout"
            case .unauthorized: "Unauthorized"
            case .forbidden: "Forbidden"
            case .payloadTooLarge: "PayloadTooLarge"
            case .unsupportedMediaType: "UnsupportedMediaType"
            case .notFound: "NotFound"
            case .methodNotAllowed: "MethodNotAllowed"
            case .conflict: "Conflict"
            case .internalError: "InternalError"
            case .poolUnavailable: "PoolUnavailable"
            case .auditUnavailable: "AuditUnavailable"
            case .circuitOpen: "CircuitOpen"
            case .idempotencyKeyInvalid: "IdempotencyKeyInvalid"
            case .idempotencyKeyMismatch: "IdempotencyKeyMismatch"
            case .idempotencyKeyInUse: "IdempotencyKeyInUse"
            case .resultTooLarge: "ResultTooLarge"
            case .sagaNotCompensable: "SagaNotCompensable"
            case .rateLimited: "RateLimited"
            }
        }

        /// What an answer with `code` means, for its response's description.
        static func meaning(_ code: APIError.Code) -> String {
            switch code {
            case .invalidParameters:
                "Missing, unknown, mistyped or out-of-range parameters, or a body that is not JSON; details name "
                    + "each parameter and why"
            case .serviceNotFound: "No such service, or it is disabled"
            case .spExecutionFailed:
                "The procedure raised an error; details carry its SQLSTATE and message; or, with code "
                    + "RESULT_TOO_LARGE (502), its result is larger than the server's limit (SPO_MAX_RESULT_BYTES)"
                    + " and was not sent"
            case .dbConnectionFailed:
                "The target database is unreachable (after the retry policy); or, with code AUDIT_UNAVAILABLE, the "
                    + "execution could not be audited and was not run; or, with code CIRCUIT_OPEN, the connection's "
                    + "circuit breaker is open: nothing was sent, Retry-After says when probes may test it again"
            case .timeout: "The service's timeout passed; the statement was cancelled in the database"
            case .unauthorized: "Missing or invalid credentials"
            case .forbidden: "The credentials lack the role or grant"
            case .payloadTooLarge: "The body is larger than the server's limit (nginx's client_max_body_size)"
            case .unsupportedMediaType: "The body is not application/json"
            case .notFound: "No such resource"
            case .methodNotAllowed: "The path exists, but not for this method; Allow lists the methods it takes"
            case .conflict: "It exists already, is still in use, or changed since the version sent"
            case .internalError: "An unexpected failure; the reference identifies it"
            case .auditUnavailable:
                "Neither the control database nor the worker's audit spool can record the execution, so it was "
                    + "not run; reference is null"
            case .circuitOpen:
                "The circuit breaker of the service's connection is open: nothing was sent to the database; "
                    + "Retry-After says in how many seconds probes may test it again"
            case .idempotencyKeyInvalid:
                "The Idempotency-Key header is not a token of letters, digits and -_.: "
                    + "(at most \(ClientToken.maxLength)), or the service requires one and none was sent; "
                    + "nothing was run"
            case .idempotencyKeyMismatch:
                "The Idempotency-Key was used before with other parameters or another service; nothing was run"
            case .idempotencyKeyInUse:
                "The first request with this Idempotency-Key is still running; try again after Retry-After seconds"
            case .resultTooLarge:
                "The procedure ran, but its result is larger than the server's limit (SPO_MAX_RESULT_BYTES); "
                    + "nothing of it was sent"
            case .sagaNotCompensable:
                "The saga is not in compensation_failed: only a saga whose compensation kept failing is retried"
            case .rateLimited:
                "Answered by nginx: too many requests or connections from this API key or address; try again "
                    + "after Retry-After seconds; reference is null"
            case .poolUnavailable:
                "Answered by nginx: no worker of the pool was reachable, or the one handling the request died (an "
                    + "execution it started is audited as interrupted); reference is null"
            }
        }

        /// One error response per code, all in the `Error` shape.
        static let responses: JSONValue = .object(
            APIError.Code.allCases.map { code in
                JSONValue.Member(
                    responseName(code),
                    .object([
                        "description": .string("\(code.rawValue): \(meaning(code))"),
                        "headers": .object(
                            [
                                .init("X-Correlation-ID", ref("headers/X-Correlation-ID")),
                                .init("X-Execution-ID", ref("headers/X-Execution-ID")),
                            ]
                                + (code == .circuitOpen || code == .dbConnectionFailed || code == .rateLimited
                                    ? [.init("Retry-After", ref("headers/Retry-After"))] : [])),
                        "content": .object([
                            "application/json": .object([
                                "schema": ref("schemas/Error"),
                                "example": .object([
                                    "error": .object([
                                        "code": .string(code.rawValue), "message": .string(meaning(code)),
                                        "reference": .string("0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"),
                                        "details": .array([]),
                                    ])
                                ]),
                            ])
                        ]),
                    ]))
            })

        // MARK: Parameters and headers

        /// What `ClientToken.isValid` accepts.
        private static let token: JSONValue = typed(
            "string",
            extra: [.init("maxLength", .number(ClientToken.maxLength)), .init("pattern", .string(ClientToken.pattern))])

        static let parameters: JSONValue = .object([
            "CorrelationID": header(
                "X-Correlation-ID",
                "Ties the request to the client's own logs; echoed back. One that is not a token of letters, digits and "
                    + "-_.: (at most 128) is replaced by a new id."),
            "IdempotencyKey": header("Idempotency-Key", idempotencyKeyDescription),
            "Prefer": .object([
                "name": .string("Prefer"), "in": .string("header"), "required": .bool(false),
                "description": .string(
                    "respond-async: validate now, queue the execution and answer 202 with Location at once; "
                        + "poll GET /api/executions/{id} for the result"),
                // No example: Swagger UI would put it in every "try it out" request.
                "schema": .object(["type": .string("string")]),
            ]),
            "ServiceName": path("name", "The service's name", name("The service's name")),
            "ConnectionName": path("name", "The connection's name", name("The connection's name")),
            "RetryPolicyName": path("name", "The retry policy's name", name("The retry policy's name")),
            "ExecutionID": path("id", "The execution id", typed("string", format: "uuid")),
            "ErrorReference": path("reference", "The error's reference", typed("string", format: "uuid")),
            "SagaID": path("id", "The saga's id (its execution id)", typed("string", format: "uuid")),
        ])

        /// What the `Idempotency-Key` header does, for its parameter's description.
        static let idempotencyKeyDescription =
            "Makes the call safe to repeat: the first request with a key runs, a repeat with the same parameters "
            + "answers the stored status and body without running again (Idempotent-Replayed: true), the same key "
            + "with other parameters answers 422 and a repeat while the first runs 409. Scoped to the API key; kept "
            + "for the service's idempotency_ttl_s (24 h by default). Letters, digits and -_.: (at most 128); "
            + "anything else answers 400."

        /// The `Idempotency-Key` header, required on the paths of services that require one.
        static func header(_ name: String, _ description: String, required: Bool = false) -> JSONValue {
            .object([
                "name": .string(name), "in": .string("header"), "required": .bool(required),
                "description": .string(description), "schema": token,
            ])
        }

        private static func path(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
            .object([
                "name": .string(name), "in": .string("path"), "required": .bool(true),
                "description": .string(description), "schema": schema,
            ])
        }

        static let headers: JSONValue = .object([
            "Location": .object([
                "description": .string("/api/executions/{id} of the queued execution"),
                "schema": typed("string"),
            ]),
            "Preference-Applied": .object([
                "description": .string("respond-async: the preference was honoured"), "schema": typed("string"),
            ]),
            "X-Execution-ID": .object([
                "description": .string("The execution's id (GET /api/executions/{id}); on errors, when there was one"),
                "schema": typed("string", format: "uuid"),
            ]),
            "X-Correlation-ID": .object([
                "description": .string("The client's correlation id, or the one generated for the request"),
                "schema": typed("string"),
            ]),
            "Idempotent-Replayed": .object([
                "description": .string(
                    "true when the answer is the stored one of an earlier request with the same Idempotency-Key"),
                "schema": typed("string", extra: [.init("enum", .array([.string("true")]))]),
            ]),
            "Retry-After": .object([
                "description": .string(
                    "Seconds to wait before trying again: until the circuit breaker lets probe calls through, or "
                        + "until the first request with this Idempotency-Key may have finished"),
                "schema": typed("integer", extra: [.init("minimum", .number(1))]),
            ]),
        ])
    }
}
