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
    /// against wherever the document was fetched from.
    public static func make(_ configuration: Configuration, serverURL: String? = nil) -> JSONValue {
        let services = configuration.services.values.filter(\.enabled).sorted { $0.name < $1.name }
        let paths = self.paths(services)
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
    static func executePath(_ service: ServiceDefinition) -> JSONValue {
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
                "\(ResultSchema.explanation(service)) Times out after \(service.timeoutMilliseconds) ms; the "
                    + "statement is then cancelled in the database."),
            "security": bearer,
            "parameters": .array(executionHeaders),
            "requestBody": .object([
                "description": .string("The input parameters by name; an empty body is the same as {}"),
                "required": .bool(false),
                "content": .object(["application/json": .object(["schema": .object(body)])]),
            ]),
            "responses": executionResponses(
                envelope(
                    service: .object(["type": .string("string"), "enum": .array([.string(service.name)])]),
                    data: ResultSchema.data(service)),
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
            "security": bearer,
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

    /// The request headers every execution reads.
    static let executionHeaders: [JSONValue] = [
        Components.ref("parameters/CorrelationID"), Components.ref("parameters/IdempotencyKey"),
    ]

    /// The success envelope of SPEC §4 around a `data` schema.
    static func envelope(service: JSONValue, data: JSONValue) -> JSONValue {
        .object([
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
                ]))
        ]
        let fixed = [
            ("400", "InvalidParameters"), ("401", "Unauthorized"), ("403", "Forbidden"), ("404", "ServiceNotFound"),
            ("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType"), ("500", "InternalError"),
            ("502", "ExecutionFailed"), ("503", "DatabaseUnavailable"), ("504", "Timeout"),
        ].map { JSONValue.Member($0.0, Components.ref("responses/\($0.1)")) }
        return .object(responses + ExecutionFailures.merged(fixed, failures))
    }
}

// MARK: - Parameter schemas

extension OpenAPIDocument {
    /// JSON schemas of parameter values, mirroring what `ParameterValidator` accepts.
    enum ParameterSchema {
        /// The schema of an input parameter as a client sends it, with its constraints.
        static func input(_ spec: ParameterSpec) -> JSONValue {
            var members: [JSONValue.Member] = []
            if let description = spec.description { members.append(.init("description", .string(description))) }
            if spec.type.isArray {
                members.append(.init("type", .string("array")))
                // Arrays may hold NULL elements; the element rules apply to the others.
                members.append(.init("items", .object(nullable(element(spec)))))
                // For arrays `maxLength` counts elements (see `ParameterValidator`).
                if let limit = spec.maxLength { members.append(.init("maxItems", .number(limit))) }
            } else {
                members += element(spec)
            }
            if !spec.required { members = nullable(members) }
            if let value = documentedDefault(spec) { members.append(.init("default", value)) }
            return .object(members)
        }

        /// The schema of an OUT or INOUT parameter's value in a response: the type alone (the input
        /// constraints are not promised of what the procedure hands back), always nullable.
        static func output(_ spec: ParameterSpec) -> JSONValue {
            var members: [JSONValue.Member] = []
            if let description = spec.description { members.append(.init("description", .string(description))) }
            if spec.type.isArray {
                members.append(.init("type", .string("array")))
                members.append(.init("items", .object(nullable(outputElement(spec.type.base)))))
            } else {
                members += outputElement(spec.type.base)
            }
            return .object(nullable(members))
        }

        /// Adds `nullable: true`. OpenAPI 3.0.3 only honours it beside a `type`, so a `oneOf` also
        /// gets it in its first branch (and only there: `null` must match exactly one branch).
        static func nullable(_ members: [JSONValue.Member]) -> [JSONValue.Member] {
            var members = members
            if let index = members.firstIndex(where: { $0.key == "oneOf" }),
                case .array(var branches) = members[index].value, case .object(let first)? = branches.first
            {
                branches[0] = .object(first + [.init("nullable", .bool(true))])
                members[index].value = .array(branches)
            }
            return members + [.init("nullable", .bool(true))]
        }

        /// The schema of one (non-null) value of the parameter's element type with the constraints
        /// that apply to each value.
        static func element(_ spec: ParameterSpec) -> [JSONValue.Member] {
            var members: [JSONValue.Member]
            switch spec.type.base {
            case .smallint: members = integer(spec, format: "int32", lower: String(Int16.min), upper: String(Int16.max))
            case .integer: members = integer(spec, format: "int32", lower: String(Int32.min), upper: String(Int32.max))
            case .bigint:
                // Clients whose numbers are doubles would round past 2^53, so a string of digits is accepted too.
                let digits: JSONValue = .object([
                    "type": .string("string"), "pattern": .string("^-?[0-9]+$"),
                    "description": .string("The integer as a string of digits (keeps every digit)"),
                ])
                let number = integer(spec, format: "int64", lower: String(Int64.min), upper: String(Int64.max))
                members = [.init("oneOf", .array([.object(number), digits]))]
            case .numeric:
                let decimal: JSONValue = .object([
                    "type": .string("string"), "pattern": .string(#"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#),
                    "description": .string("The decimal as a string (keeps every digit)"),
                ])
                members = [.init("oneOf", .array([.object(number(spec, format: nil)), decimal]))]
            case .real: members = number(spec, format: "float")
            case .doublePrecision: members = number(spec, format: "double")
            case .text, .varchar:
                members = [.init("type", .string("string"))]
                if let limit = lengthLimit(spec) { members.append(.init("maxLength", .number(limit))) }
            case .boolean: members = [.init("type", .string("boolean"))]
            case .date: members = [.init("type", .string("string")), .init("format", .string("date"))]
            case .timestamp, .timestamptz:
                members = [.init("type", .string("string")), .init("format", .string("date-time"))]
            case .uuid: members = [.init("type", .string("string")), .init("format", .string("uuid"))]
            case .json, .jsonb: members = []  // any JSON value
            }
            if let pattern = spec.pattern, isStringTyped(spec.type.base) {
                members.append(.init("pattern", .string(anchored(pattern))))
            }
            if let allowed = spec.allowedValues, !allowed.isEmpty {
                members.append(.init("enum", .array(allowed.map { normalized($0, spec.type.base) })))
            }
            return members
        }

        /// The schema of one value of `base` as the executor renders it in a response.
        static func outputElement(_ base: SQLType.Base) -> [JSONValue.Member] {
            func typed(_ type: String, _ format: String? = nil) -> [JSONValue.Member] {
                [.init("type", .string(type))] + (format.map { [.init("format", .string($0))] } ?? [])
            }
            switch base {
            case .smallint, .integer: return typed("integer", "int32")
            case .bigint: return typed("integer", "int64")
            case .numeric: return typed("number")
            case .real: return typed("number", "float")
            case .doublePrecision: return typed("number", "double")
            case .text, .varchar: return typed("string")
            case .boolean: return typed("boolean")
            case .date: return typed("string", "date")
            case .timestamp, .timestamptz: return typed("string", "date-time")
            case .uuid: return typed("string", "uuid")
            case .json, .jsonb: return []
            }
        }

        /// An integer schema within the type's range, narrowed by the configured bounds.
        private static func integer(_ spec: ParameterSpec, format: String, lower: String, upper: String)
            -> [JSONValue.Member]
        {
            [.init("type", .string("integer")), .init("format", .string(format))]
                + bounds(spec, lower: lower, upper: upper)
        }

        private static func number(_ spec: ParameterSpec, format: String?) -> [JSONValue.Member] {
            [.init("type", .string("number"))] + (format.map { [.init("format", .string($0))] } ?? [])
                + bounds(spec, lower: nil, upper: nil)
        }

        /// `minimum` and `maximum`: the tighter of the type's range and the configured bound, written
        /// as the exact literal (a Double would turn 9223372036854775807 into 9223372036854775808).
        private static func bounds(_ spec: ParameterSpec, lower: String?, upper: String?) -> [JSONValue.Member] {
            func tighter(_ configured: String?, _ limit: String?, _ keep: Int) -> String? {
                // A bound that is not a JSON number is a configuration mistake the validator reports;
                // written as a number it would make the whole document unreadable.
                guard let configured, isJSONNumber(configured) else { return limit }
                guard let limit, let order = ParameterValidator.DecimalText.compare(configured, limit) else {
                    return configured
                }
                return order == keep ? configured : limit
            }
            var members: [JSONValue.Member] = []
            if let minimum = tighter(spec.minimum, lower, 1) { members.append(.init("minimum", .number(minimum))) }
            if let maximum = tighter(spec.maximum, upper, -1) { members.append(.init("maximum", .number(maximum))) }
            return members
        }

        /// The character limit of a text value: `maxLength` (for scalars) tightened by `varchar(n)`,
        /// as `ParameterValidator` enforces it.
        private static func lengthLimit(_ spec: ParameterSpec) -> Int? {
            let modifier = spec.type.base == .varchar ? spec.type.modifier.flatMap { Int($0) } : nil
            let configured = spec.type.isArray ? nil : spec.maxLength
            switch (configured, modifier) {
            case let (a?, b?): return min(a, b)
            case let (a, b): return a ?? b
            }
        }

        /// Types whose JSON form is a string, the only values an OpenAPI `pattern` applies to.
        private static func isStringTyped(_ base: SQLType.Base) -> Bool {
            switch base {
            case .text, .varchar, .date, .timestamp, .timestamptz, .uuid: true
            default: false
            }
        }

        /// The validator matches a pattern against the whole value, OpenAPI's `pattern` searches
        /// anywhere in it: anchor it, unless it plainly already is.
        static func anchored(_ pattern: String) -> String {
            let plainlyAnchored =
                pattern.hasPrefix("^") && pattern.hasSuffix("$") && !pattern.hasSuffix("\\$") && !pattern.contains("|")
            return plainlyAnchored ? pattern : "^(?:" + pattern + ")$"
        }

        /// The default, when it is one the validator accepts. A default it rejects fails every
        /// request that omits the parameter (with its own error), and written here it would make
        /// the document invalid: tools check defaults against the schema.
        static func documentedDefault(_ spec: ParameterSpec) -> JSONValue? {
            guard let value = spec.defaultValue, value != .null else { return nil }
            var optional = spec
            optional.required = false
            guard case .success = ParameterValidator(parameters: [optional]).validate(.object([])) else { return nil }
            if spec.type.base == .timestamp || spec.type.base == .timestamptz {
                // The validator also takes `2024-01-01 10:00`; format date-time (RFC 3339) does not.
                let values = spec.type.isArray ? (value.arrayValue ?? []) : [value]
                guard values.allSatisfy({ $0 == .null || $0.stringValue.map(isRFC3339DateTime) == true }) else {
                    return nil
                }
            }
            return normalized(value, spec.type.base)
        }

        /// Integers the validator took as strings (`"5"`), written as the numbers the schema says
        /// (smallint and integer have no string form there).
        private static func normalized(_ value: JSONValue, _ base: SQLType.Base) -> JSONValue {
            switch value {
            case .array(let items): return .array(items.map { normalized($0, base) })
            case .string(let text) where base == .smallint || base == .integer:
                return ParameterValidator.DecimalText.canonicalInteger(text).map(JSONValue.number) ?? value
            default: return value
            }
        }

        /// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
        static func isJSONNumber(_ text: String) -> Bool {
            var bytes = Array(text.utf8)[...]
            func digits() -> Int {
                let count = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
                bytes = bytes.dropFirst(count)
                return count
            }
            if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            let leadingZero = bytes.first == UInt8(ascii: "0")
            let integerDigits = digits()
            guard integerDigits > 0, !(leadingZero && integerDigits > 1) else { return false }
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                guard digits() > 0 else { return false }
            }
            if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
                bytes = bytes.dropFirst()
                if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
                guard digits() > 0 else { return false }
            }
            return bytes.isEmpty
        }

        /// `YYYY-MM-DDTHH:MM:SS[.f]` and `Z` or `±HH:MM`, on top of what the validator checked.
        static func isRFC3339DateTime(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            guard ParameterValidator.TemporalText.isTimestamp(text), bytes.count >= 20,
                bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"), bytes[16] == UInt8(ascii: ":")
            else { return false }
            let last = bytes[bytes.count - 1]
            if last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") { return true }
            let zone = bytes.suffix(6)
            return (zone.first == UInt8(ascii: "+") || zone.first == UInt8(ascii: "-"))
                && zone[zone.startIndex + 3] == UInt8(ascii: ":")
        }
    }
}

// MARK: - Result schemas

extension OpenAPIDocument {
    /// The schema of `data` in a success, by the routine's result shape.
    enum ResultSchema {
        static func data(_ service: ServiceDefinition) -> JSONValue {
            switch service.resultShape {
            case .set:
                return .object([
                    "type": .string("array"),
                    "description": .string("The rows, one object per row keyed by column name"),
                    // The columns are not part of the configuration.
                    "items": .object(["type": .string("object"), "additionalProperties": .bool(true)]),
                ])
            case .scalar:
                return .object(["description": .string("The function's value, of any JSON type")])
            case .void:
                return voidSchema
            case .procedure:
                let outputs = service.parameters.filter { $0.direction.isOutput }
                guard !outputs.isEmpty else { return voidSchema }
                return .object([
                    "type": .string("object"),
                    "description": .string("The OUT and INOUT parameters by name"),
                    "required": .array(outputs.map { .string($0.name) }),
                    "properties": .object(outputs.map { .init($0.name, ParameterSchema.output($0)) }),
                ])
            }
        }

        private static let voidSchema: JSONValue = .object([
            "nullable": .bool(true), "description": .string("always null"),
        ])

        /// One sentence on what `data` holds, for the operation's description.
        static func explanation(_ service: ServiceDefinition) -> String {
            switch service.resultShape {
            case .set: "data is the array of rows the function returns."
            case .scalar: "data is the value the function returns."
            case .void: "data is null."
            case .procedure:
                service.parameters.contains { $0.direction.isOutput }
                    ? "data is the object of the procedure's OUT and INOUT parameters." : "data is null."
            }
        }
    }
}

// MARK: - Components

extension OpenAPIDocument {
    /// The shared parts: schemas, error responses, parameters, headers and the security scheme.
    enum Components {
        /// `{"$ref": "#/components/<path>"}`.
        static func ref(_ path: String) -> JSONValue { .object(["$ref": .string("#/components/" + path)]) }

        static let all: JSONValue = .object([
            "schemas": schemas, "responses": responses, "parameters": parameters, "headers": headers,
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
                ], required: ["id", "service", "status"]),
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
                ], required: ["name", "connection", "procedure"], closed: true,
                description: "The service document (also the format of spo services import|export)"),
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
                ], required: ["name", "type"], closed: true),
            "Connection": object(
                [
                    .init("name", name("The name services refer to")),
                    .init("conninfo", typed("string", "A libpq connection string or URI, without a password")),
                    .init(
                        "password_from",
                        typed(
                            "string", "Where the secret comes from: env:NAME or file:/path", nullable: true,
                            extra: [.init("pattern", .string("^(env|file):.+"))])),
                    .init("description", typed("string", extra: [.init("default", .string(""))])),
                ], required: ["name", "conninfo"], closed: true,
                description: "A target database; never carries a secret"),
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
                                    ]))
                            ]))
                ], description: "Each connection's reachability and latency"),
        ])

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
            }
        }

        /// What an answer with `code` means, for its response's description.
        static func meaning(_ code: APIError.Code) -> String {
            switch code {
            case .invalidParameters:
                "Missing, unknown, mistyped or out-of-range parameters, or a body that is not JSON; details name "
                    + "each parameter and why"
            case .serviceNotFound: "No such service, or it is disabled"
            case .spExecutionFailed: "The procedure raised an error; details carry its SQLSTATE and message"
            case .dbConnectionFailed:
                "The target database is unreachable (after the retry policy); or, with code AUDIT_UNAVAILABLE, the "
                    + "execution could not be audited and was not run"
            case .timeout: "The service's timeout passed; the statement was cancelled in the database"
            case .unauthorized: "Missing or invalid credentials"
            case .forbidden: "The credentials lack the role or grant"
            case .payloadTooLarge: "The body is larger than \(HTTPRequest.maxBodyBytes) bytes"
            case .unsupportedMediaType: "The body is not application/json"
            case .notFound: "No such resource"
            case .methodNotAllowed: "The path exists, but not for this method; Allow lists the methods it takes"
            case .conflict: "It exists already, is still in use, or changed since the version sent"
            case .internalError: "An unexpected failure; the reference identifies it"
            case .auditUnavailable:
                "Neither the control database nor the worker's audit spool can record the execution, so it was "
                    + "not run; reference is null"
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
                        "headers": .object([
                            "X-Correlation-ID": ref("headers/X-Correlation-ID"),
                            "X-Execution-ID": ref("headers/X-Execution-ID"),
                        ]),
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

        /// What `RequestContext.isValidToken` accepts; anything else is replaced, not rejected.
        private static let token: JSONValue = typed(
            "string", extra: [.init("maxLength", .number(128)), .init("pattern", .string("^[A-Za-z0-9_.:-]+$"))])

        static let parameters: JSONValue = .object([
            "CorrelationID": header(
                "X-Correlation-ID",
                "Ties the request to the client's own logs; echoed back. One that is not a token of letters, digits and "
                    + "-_.: (at most 128) is replaced by a new id."),
            "IdempotencyKey": header("Idempotency-Key", "Recorded with the execution"),
            "ServiceName": path("name", "The service's name", name("The service's name")),
            "ConnectionName": path("name", "The connection's name", name("The connection's name")),
            "RetryPolicyName": path("name", "The retry policy's name", name("The retry policy's name")),
            "ExecutionID": path("id", "The execution id", typed("string", format: "uuid")),
            "ErrorReference": path("reference", "The error's reference", typed("string", format: "uuid")),
        ])

        private static func header(_ name: String, _ description: String) -> JSONValue {
            .object([
                "name": .string(name), "in": .string("header"), "required": .bool(false),
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
            "X-Execution-ID": .object([
                "description": .string("The execution's id (GET /api/executions/{id}); on errors, when there was one"),
                "schema": typed("string", format: "uuid"),
            ]),
            "X-Correlation-ID": .object([
                "description": .string("The client's correlation id, or the one generated for the request"),
                "schema": typed("string"),
            ]),
        ])
    }
}
