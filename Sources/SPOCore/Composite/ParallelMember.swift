import SPOJSON

/// One member of a `kind: "parallel"` service: an ordinary (procedure) service run alongside the
/// others, its parameters mapped from the composite's request (`ParameterSource`).
public struct ParallelMember: Sendable, Equatable {
    /// The key of the member's data in the answer; unique within the composite.
    public var name: String
    /// The service it runs (kind `procedure`).
    public var service: String
    /// The member service's parameters by name, each from a path into `{"input": …}` or a literal.
    public var parameters: [(name: String, source: ParameterSource)]
    /// A required member that fails fails the call; an optional one leaves `null` and an error entry.
    public var required: Bool
    /// The member's own timeout; nil takes its service's. Either is bounded by the composite's.
    public var timeoutMilliseconds: Int?

    public init(
        name: String, service: String, parameters: [(name: String, source: ParameterSource)] = [],
        required: Bool = true, timeoutMilliseconds: Int? = nil
    ) {
        self.name = name
        self.service = service
        self.parameters = parameters
        self.required = required
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Members of one composite; more would need more connections per target than a worker keeps.
    public static let limit = 8

    public static func == (left: ParallelMember, right: ParallelMember) -> Bool {
        left.name == right.name && left.service == right.service && left.required == right.required
            && left.timeoutMilliseconds == right.timeoutMilliseconds
            && left.parameters.map(\.name) == right.parameters.map(\.name)
            && left.parameters.map(\.source) == right.parameters.map(\.source)
    }

    /// The member's parameters for one call: each mapping resolved in `context`; a path that
    /// leads nowhere (an optional input the client left out) leaves the parameter out, so the
    /// member's own default applies.
    public func arguments(in context: JSONValue) -> JSONValue {
        .object(
            parameters.compactMap { name, source in
                source.value(in: context).map { JSONValue.Member(name, $0) }
            })
    }

    /// The member as a service document writes it.
    public var document: JSONValue {
        var members: [JSONValue.Member] = [
            .init("name", .string(name)), .init("service", .string(service)),
            .init("parameters", .object(parameters.map { .init($0.name, $0.source.documentValue) })),
            .init("required", .bool(required)),
        ]
        if let timeoutMilliseconds { members.append(.init("timeout_ms", .number(timeoutMilliseconds))) }
        return .object(members)
    }

    /// Reads one entry of `members`, collecting every problem with its path.
    public static func read(_ value: JSONValue, path: String) -> Result<ParallelMember, ConfigurationError> {
        var problems: [(path: String, problem: String)] = []
        guard let fields = value.members else { return .failure(ConfigurationError(path, "must be a JSON object")) }
        let allowed: Set<String> = ["name", "service", "parameters", "required", "timeout_ms"]
        for field in fields where !allowed.contains(field.key) {
            problems.append(
                ("\(path).\(field.key)", "unknown field; allowed: " + allowed.sorted().joined(separator: ", ")))
        }
        func name(_ key: String) -> String {
            guard let text = value[key]?.stringValue, ServiceDefinition.isValidName(text) else {
                problems.append(
                    ("\(path).\(key)", "is required: lowercase letters, digits, _ or -, starting with a letter"))
                return ""
            }
            return text
        }
        var member = ParallelMember(name: name("name"), service: name("service"))
        switch value["required"] {
        case nil, .null?: member.required = true
        case .bool(let flag)?: member.required = flag
        default: problems.append(("\(path).required", "must be true or false"))
        }
        switch value["timeout_ms"] {
        case nil, .null?: break
        case let number?:
            if let milliseconds = number.intValue, (1...3_600_000).contains(milliseconds) {
                member.timeoutMilliseconds = milliseconds
            } else {
                problems.append(("\(path).timeout_ms", "must be an integer from 1 to 3600000"))
            }
        }
        switch value["parameters"] {
        case nil, .null?: break
        case .object(let mapping)?:
            for entry in mapping {
                switch ParameterSource.read(entry.value) {
                case .success(let source): member.parameters.append((entry.key, source))
                case .failure(let error): problems.append(("\(path).parameters.\(entry.key)", error.description))
                }
            }
        default: problems.append(("\(path).parameters", "must be an object: member parameter → path or literal"))
        }
        return problems.isEmpty ? .success(member) : .failure(ConfigurationError(problems: problems))
    }
}
