import SPOJSON

/// A configuration document that could not be read, with every problem found.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// `path` points into the document (`services[2].parameters[0].type`).
    public var problems: [(path: String, problem: String)]

    public init(_ path: String, _ problem: String) { problems = [(path, problem)] }
    public init(problems: [(path: String, problem: String)]) { self.problems = problems }

    public var description: String { problems.map { "\($0.path): \($0.problem)" }.joined(separator: "; ") }
}

/// The service document format (SPEC §4), shared by the admin API and `spo services import|export`.
///
/// Reading collects every problem rather than stopping at the first, so one import run tells
/// the operator everything to fix.
public enum ServiceDocument {
    /// A service as read from a document, before its routine has been checked in the catalog.
    public struct Draft: Sendable {
        public var name: String
        public var description: String
        public var enabled: Bool
        public var kind: ServiceDefinition.Kind
        public var connection: String
        /// As written: `schema.name`, optionally with an argument list for overloaded routines.
        public var procedure: String
        /// Nil when the document asks to discover them from the catalog.
        public var parameters: [ParameterSpec]?
        public var timeoutMilliseconds: Int
        public var retryPolicy: String?
        /// The `errors` member: status overrides of `SP_EXECUTION_FAILED` by SQLSTATE.
        public var errorStatuses = SQLStateStatusMap()
        /// Running it twice is the same as running it once: a call whose connection was lost after
        /// it was sent may be sent again even though the routine is `VOLATILE`.
        public var idempotent: Bool = false
        /// `"idempotency": "required"`: calls without an `Idempotency-Key` are refused.
        public var idempotency: IdempotencyMode = .optional
        /// `idempotency_ttl_s`: how long a key is kept after its first request.
        public var idempotencyTTLSeconds = IdempotencyMode.defaultTTLSeconds
        /// A parallel service's `members`.
        public var members: [ParallelMember] = []
        /// The steps of a `saga` service (nil for every other kind).
        public var saga: SagaDefinition?
        /// `"public": true`: callable without an API key (the only way to allow anonymous calls).
        public var isPublic = false
    }

    // MARK: - Reading

    public static func draft(from value: JSONValue, path: String = "service") throws(ConfigurationError) -> Draft {
        var reader = Reader(value, path: path)
        let name = reader.string("name") ?? ""
        if !name.isEmpty, !ServiceDefinition.isValidName(name) {
            reader.problem("name", "must be lowercase letters, digits, _ or -, starting with a letter (at most 63)")
        }
        let kindText = reader.string("kind", default: "procedure") ?? "procedure"
        let kind = ServiceDefinition.Kind(rawValue: kindText)
        if kind == nil { reader.problem("kind", "must be one of: procedure, parallel, saga") }
        if kind == .saga { return try sagaDraft(from: value, path: path) }
        var parameters: [ParameterSpec]? = nil
        switch value["parameters"] {
        case .string("discover"): parameters = nil
        case .array(let items):
            parameters = items.enumerated().compactMap { index, item in
                reader.nested { () throws(ConfigurationError) in
                    try parameter(from: item, path: "\(path).parameters[\(index)]")
                }
            }
        case nil: parameters = []
        default: reader.problem("parameters", "must be an array of parameters or \"discover\"")
        }
        var seen: Set<String> = []
        for parameter in parameters ?? [] where !seen.insert(parameter.name).inserted {
            reader.problem("parameters", "\(parameter.name) is listed more than once")
        }
        for (index, parameter) in (parameters ?? []).enumerated() {
            if let pattern = parameter.pattern, case .failure(let error) = WholeStringPattern.compile(pattern) {
                reader.problem("parameters[\(index)].pattern", error.description)
            }
        }
        var draft = Draft(
            name: name, description: reader.string("description", default: "") ?? "",
            enabled: reader.bool("enabled", default: true), kind: kind ?? .procedure,
            connection: kind == .parallel ? "" : reader.string("connection") ?? "",
            procedure: kind == .parallel ? "" : reader.string("procedure") ?? "",
            parameters: parameters,
            timeoutMilliseconds: reader.int("timeout_ms", default: 30_000, range: 1...3_600_000),
            retryPolicy: reader.string("retry_policy", default: nil))
        if let errors = value["errors"], errors != .null {
            switch SQLStateStatusMap.read(errors) {
            case .success(let statuses): draft.errorStatuses = statuses
            case .failure(let error): for found in error.problems { reader.problem(found.path, found.problem) }
            }
        }
        draft.idempotent = reader.bool("idempotent", default: false)
        draft.isPublic = reader.bool("public", default: false)
        let modeText = reader.string("idempotency", default: IdempotencyMode.optional.rawValue) ?? ""
        if let mode = IdempotencyMode(rawValue: modeText) {
            draft.idempotency = mode
        } else {
            reader.problem("idempotency", "must be optional or required")
        }
        draft.idempotencyTTLSeconds = reader.int(
            "idempotency_ttl_s", default: IdempotencyMode.defaultTTLSeconds, range: 1...IdempotencyMode.maxTTLSeconds)
        if kind == .parallel {
            draft.members = reader.parallelMembers(value)
            if parameters == nil { reader.problem("parameters", "a parallel service declares its parameters") }
        }
        try reader.finish(allowed: [
            "name", "description", "enabled", "kind", "connection", "procedure", "parameters", "timeout_ms", "errors",
            "idempotent", "idempotency", "idempotency_ttl_s", "members", "public",
            // What the server adds to a document it answers: accepted and ignored, so a document
            // read with GET can be changed and sent back with PUT.
            "retry_policy", "result_shape", "id", "version",
        ])
        return draft
    }

    /// A `kind: "saga"` document: parameters and steps, no connection or procedure.
    static func sagaDraft(from value: JSONValue, path: String) throws(ConfigurationError) -> Draft {
        var reader = Reader(value, path: path)
        let name = reader.string("name") ?? ""
        if !name.isEmpty, !ServiceDefinition.isValidName(name) {
            reader.problem("name", "must be lowercase letters, digits, _ or -, starting with a letter (at most 63)")
        }
        for key in ["connection", "procedure"] where value[key] != nil && value[key] != .null {
            reader.problem(key, "a saga has none: its steps name the services that run")
        }
        var parameters: [ParameterSpec] = []
        switch value["parameters"] {
        case .array(let items):
            parameters = items.enumerated().compactMap { index, item in
                reader.nested { () throws(ConfigurationError) in
                    try parameter(from: item, path: "\(path).parameters[\(index)]")
                }
            }
        case nil: break
        default: reader.problem("parameters", "must be an array of parameters (a saga has no routine to discover)")
        }
        var seen: Set<String> = []
        for parameter in parameters where !seen.insert(parameter.name).inserted {
            reader.problem("parameters", "\(parameter.name) is listed more than once")
        }
        var draft = Draft(
            name: name, description: reader.string("description", default: "") ?? "",
            enabled: reader.bool("enabled", default: true), kind: .saga, connection: "", procedure: "",
            parameters: parameters,
            timeoutMilliseconds: reader.int("timeout_ms", default: 30_000, range: 1...3_600_000),
            retryPolicy: reader.string("retry_policy", default: nil))
        let modeText = reader.string("idempotency", default: IdempotencyMode.optional.rawValue) ?? ""
        if let mode = IdempotencyMode(rawValue: modeText) {
            draft.idempotency = mode
        } else {
            reader.problem("idempotency", "must be optional or required")
        }
        draft.idempotencyTTLSeconds = reader.int(
            "idempotency_ttl_s", default: IdempotencyMode.defaultTTLSeconds, range: 1...IdempotencyMode.maxTTLSeconds)
        switch SagaDefinition.read(value["steps"], parameters: parameters, path: path) {
        case .success(let saga): draft.saga = saga
        case .failure(let error): reader.problems += error.problems
        }
        try reader.finish(allowed: [
            "name", "description", "enabled", "kind", "connection", "procedure", "parameters", "timeout_ms",
            "retry_policy", "idempotency", "idempotency_ttl_s", "steps", "id", "version",
        ])
        return draft
    }

    public static func parameter(from value: JSONValue, path: String) throws(ConfigurationError) -> ParameterSpec {
        var reader = Reader(value, path: path)
        let name = reader.string("name") ?? ""
        let typeText = reader.string("type") ?? "text"
        let type = SQLType(parsing: typeText)
        if type == nil {
            reader.problem(
                "type",
                "unsupported type \(typeText); use one of: "
                    + SQLType.Base.allCases.map(\.rawValue).joined(separator: ", ")
                    + " (or an array of one, e.g. integer[])")
        }
        let directionText = (reader.string("direction", default: "IN") ?? "IN").uppercased()
        let direction = ParameterSpec.Direction(rawValue: directionText)
        if direction == nil { reader.problem("direction", "must be IN, OUT or INOUT") }
        let spec = ParameterSpec(
            name: name, type: type ?? SQLType(.text), direction: direction ?? .in,
            required: reader.bool("required", default: false), defaultValue: value["default"],
            minimum: reader.number("minimum"), maximum: reader.number("maximum"),
            maxLength: reader.optionalInt("maxLength"), pattern: reader.string("pattern", default: nil),
            allowedValues: reader.array("enum"), description: reader.string("description", default: nil),
            sensitive: reader.bool("sensitive", default: false))
        try reader.finish(allowed: [
            "name", "type", "direction", "required", "default", "minimum", "maximum", "maxLength", "pattern", "enum",
            "description", "sensitive",
        ])
        return spec
    }

    public static func connection(from value: JSONValue, path: String) throws(ConfigurationError)
        -> ConnectionDefinition
    {
        var reader = Reader(value, path: path)
        let name = reader.string("name") ?? ""
        if !name.isEmpty, !ServiceDefinition.isValidName(name) {
            reader.problem("name", "must be lowercase letters, digits, _ or -, starting with a letter")
        }
        let conninfo = reader.string("conninfo") ?? ""
        if let problem = ConninfoRules.problem(in: conninfo) { reader.problem("conninfo", problem) }
        let passwordFrom = reader.string("password_from", default: nil)
        if let passwordFrom, case .failure(let problem) = SecretReference.parse(passwordFrom, under: .current) {
            reader.problem("password_from", problem.description)
        }
        var definition = ConnectionDefinition(
            name: name, conninfo: conninfo, passwordFrom: passwordFrom,
            description: reader.string("description", default: "") ?? "")
        if let breaker = value["breaker"], breaker != .null {
            switch BreakerSettings.read(breaker) {
            case .success(let settings): definition.breaker = settings
            case .failure(let error): for found in error.problems { reader.problem(found.path, found.problem) }
            }
        }
        // breaker_state is what administration adds to a document it answers: ignored.
        try reader.finish(allowed: ["name", "conninfo", "password_from", "description", "breaker", "breaker_state"])
        return definition
    }

    public static func retryPolicy(from value: JSONValue, path: String) throws(ConfigurationError) -> RetryPolicy {
        var reader = Reader(value, path: path)
        let name = reader.string("name") ?? ""
        if !name.isEmpty, !ServiceDefinition.isValidName(name) {
            reader.problem("name", "must be lowercase letters, digits, _ or -, starting with a letter (at most 63)")
        }
        let states = reader.array("retryable_sqlstates")
        let policy = RetryPolicy(
            name: name, maxAttempts: reader.int("max_attempts", default: 3, range: 1...20),
            initialBackoffMilliseconds: reader.int("initial_backoff_ms", default: 50, range: 0...60_000),
            multiplier: reader.double("multiplier", default: 2, range: 1...10),
            maxBackoffMilliseconds: reader.int("max_backoff_ms", default: 2000, range: 0...600_000),
            jitter: reader.double("jitter", default: 0.2, range: 0...1),
            retryableSQLStates: states?.compactMap(\.stringValue) ?? RetryPolicy.transientSQLStates)
        if let states, states.contains(where: { $0.stringValue == nil }) {
            reader.problem("retryable_sqlstates", "must be an array of strings")
        }
        for state in policy.retryableSQLStates {
            if !SQLStateStatusMap.isValidKey(state) {
                reader.problem(
                    "retryable_sqlstates",
                    "\(state) is neither a SQLSTATE (5 characters) nor a class (2) of digits and uppercase letters")
            } else if RetryPolicy.businessClasses.contains(String(state.prefix(2))) {
                reader.problem("retryable_sqlstates", "\(state) is a business or data error; those are never retried")
            }
        }
        try reader.finish(allowed: [
            "name", "max_attempts", "initial_backoff_ms", "multiplier", "max_backoff_ms", "jitter",
            "retryable_sqlstates",
        ])
        return policy
    }

    // MARK: - Writing

    public static func document(for service: ServiceDefinition) -> JSONValue {
        if service.kind == .parallel { return parallelDocument(for: service) }
        if let saga = service.saga {
            return .object([
                .init("name", .string(service.name)), .init("description", .string(service.description)),
                .init("kind", .string(service.kind.rawValue)),
                .init("parameters", .array(service.parameters.map(document(for:)))),
                .init("timeout_ms", .number(service.timeoutMilliseconds)),
                .init("retry_policy", service.retryPolicy.map(JSONValue.string) ?? .null),
                .init("enabled", .bool(service.enabled)), .init("idempotency", .string(service.idempotency.rawValue)),
                .init("idempotency_ttl_s", .number(service.idempotencyTTLSeconds)), .init("steps", saga.document),
            ])
        }
        var members: [JSONValue.Member] = [
            .init("name", .string(service.name)), .init("description", .string(service.description)),
            .init("kind", .string(service.kind.rawValue)), .init("connection", .string(service.connection)),
            .init("procedure", .string(service.procedureReference)),
            .init("parameters", .array(service.parameters.map(document(for:)))),
            .init("timeout_ms", .number(service.timeoutMilliseconds)),
            .init("retry_policy", service.retryPolicy.map(JSONValue.string) ?? .null),
            .init("enabled", .bool(service.enabled)), .init("public", .bool(service.isPublic)),
            .init("idempotent", .bool(service.idempotent)),
            .init("idempotency", .string(service.idempotency.rawValue)),
            .init("idempotency_ttl_s", .number(service.idempotencyTTLSeconds)),
            .init("result_shape", .string(service.resultShape.rawValue)),
        ]
        // Only when there are overrides, like a parameter's optional fields.
        if !service.errorStatuses.overrides.isEmpty {
            members.insert(.init("errors", service.errorStatuses.document), at: 8)
        }
        return .object(members)
    }

    public static func document(for parameter: ParameterSpec) -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("name", .string(parameter.name)), .init("type", .string(parameter.type.description)),
            .init("direction", .string(parameter.direction.rawValue)), .init("required", .bool(parameter.required)),
        ]
        if let value = parameter.defaultValue { members.append(.init("default", value)) }
        if let value = parameter.minimum { members.append(.init("minimum", .number(value))) }
        if let value = parameter.maximum { members.append(.init("maximum", .number(value))) }
        if let value = parameter.maxLength { members.append(.init("maxLength", .number(value))) }
        if let value = parameter.pattern { members.append(.init("pattern", .string(value))) }
        if let value = parameter.allowedValues { members.append(.init("enum", .array(value))) }
        if let value = parameter.description { members.append(.init("description", .string(value))) }
        if parameter.sensitive { members.append(.init("sensitive", .bool(true))) }
        return .object(members)
    }

    /// A connection without its secret: only where the secret comes from.
    public static func document(for connection: ConnectionDefinition) -> JSONValue {
        .object([
            "name": .string(connection.name), "conninfo": .string(connection.conninfo),
            "password_from": connection.passwordFrom.map(JSONValue.string) ?? .null,
            "description": .string(connection.description), "breaker": connection.breaker.document,
        ])
    }

    public static func document(for policy: RetryPolicy) -> JSONValue {
        .object([
            "name": .string(policy.name), "max_attempts": .number(policy.maxAttempts),
            "initial_backoff_ms": .number(policy.initialBackoffMilliseconds), "multiplier": .number(policy.multiplier),
            "max_backoff_ms": .number(policy.maxBackoffMilliseconds), "jitter": .number(policy.jitter),
            "retryable_sqlstates": .array(policy.retryableSQLStates.map(JSONValue.string)),
        ])
    }
}

/// Reads typed members of one JSON object, collecting problems with their paths.
private struct Reader {
    let value: JSONValue
    let path: String
    var problems: [(path: String, problem: String)] = []

    init(_ value: JSONValue, path: String) {
        self.value = value
        self.path = path
        if value.members == nil { problems.append((path, "must be a JSON object")) }
    }

    mutating func problem(_ key: String, _ message: String) { problems.append(("\(path).\(key)", message)) }

    mutating func nested<T>(_ body: () throws(ConfigurationError) -> T) -> T? {
        do { return try body() } catch {
            problems += error.problems
            return nil
        }
    }

    /// A required string (nil and a problem when missing or empty).
    mutating func string(_ key: String) -> String? {
        guard let text = value[key]?.stringValue, !text.isEmpty else {
            problem(key, "is required (a non-empty string)")
            return nil
        }
        return text
    }

    mutating func string(_ key: String, default fallback: String?) -> String? {
        switch value[key] {
        case nil, .null?: return fallback
        case .string(let text)?: return text
        default:
            problem(key, "must be a string")
            return fallback
        }
    }

    mutating func bool(_ key: String, default fallback: Bool) -> Bool {
        switch value[key] {
        case nil, .null?: return fallback
        case .bool(let flag)?: return flag
        default:
            problem(key, "must be true or false")
            return fallback
        }
    }

    mutating func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard let member = value[key], member != .null else { return fallback }
        guard let number = member.intValue, range.contains(number) else {
            problem(key, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            return fallback
        }
        return number
    }

    mutating func optionalInt(_ key: String) -> Int? {
        guard let member = value[key], member != .null else { return nil }
        guard let number = member.intValue, number >= 0 else {
            problem(key, "must be a non-negative integer")
            return nil
        }
        return number
    }

    mutating func double(_ key: String, default fallback: Double, range: ClosedRange<Double>) -> Double {
        guard let member = value[key], member != .null else { return fallback }
        guard let number = member.doubleValue, range.contains(number) else {
            problem(key, "must be a number from \(range.lowerBound) to \(range.upperBound)")
            return fallback
        }
        return number
    }

    /// A number kept as its exact literal.
    mutating func number(_ key: String) -> String? {
        switch value[key] {
        case nil, .null?: return nil
        case .number(let text)?: return text
        default:
            problem(key, "must be a number")
            return nil
        }
    }

    /// A parallel service's `members`; connection, procedure and errors belong to its members.
    mutating func parallelMembers(_ document: JSONValue) -> [ParallelMember] {
        for key in ["connection", "procedure", "errors"] where document[key] != nil && document[key] != .null {
            problem(key, "a parallel service has none: its members' services do")
        }
        guard let items = array("members") else {
            problem("members", "is required: an array of {name, service, parameters, required, timeout_ms}")
            return []
        }
        return items.enumerated().compactMap { index, item in
            switch ParallelMember.read(item, path: "\(path).members[\(index)]") {
            case .success(let member): return member
            case .failure(let error):
                problems += error.problems
                return nil
            }
        }
    }

    mutating func array(_ key: String) -> [JSONValue]? {
        switch value[key] {
        case nil, .null?: return nil
        case .array(let items)?: return items
        default:
            problem(key, "must be an array")
            return nil
        }
    }

    func finish(allowed: Set<String>) throws(ConfigurationError) {
        var all = problems
        for member in value.members ?? [] where !allowed.contains(member.key) {
            all.append(("\(path).\(member.key)", "unknown field; allowed: " + allowed.sorted().joined(separator: ", ")))
        }
        if !all.isEmpty { throw ConfigurationError(problems: all) }
    }
}
