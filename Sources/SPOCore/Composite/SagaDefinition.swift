import SPOJSON

/// The steps of a `kind: "saga"` service, in order (see `SagaStep`).
///
/// Reading checks what the document alone can tell (shapes, names, mapping paths, compensations);
/// `SagaRules` checks it against the configuration's services when the service is written.
public struct SagaDefinition: Sendable, Equatable {
    public var steps: [SagaStep]

    public init(steps: [SagaStep]) { self.steps = steps }

    /// Reads the `steps` member of a saga document at `path` (`service`), checking it against the
    /// saga's own `parameters`; every problem is reported with its path.
    public static func read(_ value: JSONValue?, parameters: [ParameterSpec], path: String)
        -> Result<SagaDefinition, ConfigurationError>
    {
        var problems: [(path: String, problem: String)] = []
        guard case .array(let items)? = value, !items.isEmpty else {
            return .failure(ConfigurationError("\(path).steps", "is required: a non-empty array of steps"))
        }
        var steps: [SagaStep] = []
        for (index, item) in items.enumerated() {
            let here = "\(path).steps[\(index)]"
            guard let members = item.members else {
                problems.append((here, "must be a JSON object"))
                continue
            }
            for member in members where !["name", "service", "parameters", "compensation"].contains(member.key) {
                problems.append(
                    ("\(here).\(member.key)", "unknown field; allowed: compensation, name, parameters, service"))
            }
            let name = item["name"]?.stringValue ?? ""
            if !ServiceDefinition.isValidName(name) {
                problems.append(
                    ("\(here).name", "is required: lowercase letters, digits, _ or -, starting with a letter"))
            } else if steps.contains(where: { $0.name == name }) {
                problems.append(("\(here).name", "\(name) names an earlier step too; step names must be unique"))
            }
            let service = item["service"]?.stringValue ?? ""
            if service.isEmpty { problems.append(("\(here).service", "is required (the name of a service)")) }
            let earlier = Set(steps.map(\.name))
            let mappings = readMappings(
                item["parameters"], path: "\(here).parameters", inputs: parameters, steps: earlier,
                problems: &problems)
            var compensation: SagaCompensation?
            switch item["compensation"] {
            case nil, .null?:
                if index < items.count - 1 {
                    problems.append(
                        (
                            "\(here).compensation",
                            "is required: only the last step may have none (a later step can fail and this one must be undone)"
                        ))
                }
            case .object(let fields)?:
                for field in fields where !["service", "parameters"].contains(field.key) {
                    problems.append(
                        ("\(here).compensation.\(field.key)", "unknown field; allowed: parameters, service"))
                }
                let compensating = item["compensation"]?["service"]?.stringValue ?? ""
                if compensating.isEmpty {
                    problems.append(("\(here).compensation.service", "is required (the name of a service)"))
                }
                // A compensation runs after its step: it may read the step's own output.
                let undo = readMappings(
                    item["compensation"]?["parameters"], path: "\(here).compensation.parameters", inputs: parameters,
                    steps: earlier.union([name]), problems: &problems)
                compensation = SagaCompensation(service: compensating, parameters: undo)
            default:
                problems.append(("\(here).compensation", "must be an object with service and parameters"))
            }
            steps.append(SagaStep(name: name, service: service, parameters: mappings, compensation: compensation))
        }
        if !problems.isEmpty { return .failure(ConfigurationError(problems: problems)) }
        return .success(SagaDefinition(steps: steps))
    }

    private static func readMappings(
        _ value: JSONValue?, path: String, inputs: [ParameterSpec], steps: Set<String>,
        problems: inout [(path: String, problem: String)]
    ) -> [SagaMapping] {
        switch value {
        case nil, .null?:
            return []
        case .object(let members)?:
            var mappings: [SagaMapping] = []
            for member in members {
                let here = "\(path).\(member.key)"
                switch ParameterSource.read(member.value) {
                case .failure(let error):
                    problems.append((here, error.description))
                case .success(let source):
                    if case .path(let mapping) = source, let problem = problem(of: mapping, inputs, steps) {
                        problems.append((here, problem))
                    }
                    mappings.append(SagaMapping(parameter: member.key, source: source))
                }
            }
            return mappings
        default:
            problems.append((path, "must be an object of parameter name → path or literal value"))
            return []
        }
    }

    private static func problem(of path: MappingPath, _ inputs: [ParameterSpec], _ steps: Set<String>) -> String? {
        if let input = path.inputParameter {
            guard inputs.contains(where: { $0.name == input }) else {
                return "\(path) names no parameter of this saga; it has: "
                    + (inputs.isEmpty ? "none" : inputs.map(\.name).joined(separator: ", "))
            }
            return nil
        }
        if let step = path.step {
            guard steps.contains(step) else {
                return "\(path) reads step \(step), which does not run before this point; earlier steps: "
                    + (steps.isEmpty ? "none" : steps.sorted().joined(separator: ", "))
            }
            return nil
        }
        return "\(path) must start with $.input.<parameter> or $.steps.<step>.data"
    }

    /// The `steps` member as a document writes it, so a saga round-trips through GET and PUT.
    public var document: JSONValue {
        .array(
            steps.map { step in
                var members: [JSONValue.Member] = [
                    .init("name", .string(step.name)), .init("service", .string(step.service)),
                    .init("parameters", Self.document(step.parameters)),
                ]
                if let compensation = step.compensation {
                    members.append(
                        .init(
                            "compensation",
                            .object([
                                .init("service", .string(compensation.service)),
                                .init("parameters", Self.document(compensation.parameters)),
                            ])))
                }
                return .object(members)
            })
    }

    private static func document(_ mappings: [SagaMapping]) -> JSONValue {
        .object(mappings.map { .init($0.parameter, $0.source.documentValue) })
    }
}
