/// The write-time checks of a saga against the services it uses: each step and compensation names
/// an existing procedure service (no composite inside a composite: that also rules out cycles),
/// maps only parameters the service has, and maps every one it requires.
public enum SagaRules {
    /// Every problem, with its path under `path` (`service.steps[1].compensation.parameters.p_id`).
    public static func problems(
        _ saga: SagaDefinition, path: String = "service", service lookup: (String) -> ServiceDefinition?
    ) -> [(path: String, problem: String)] {
        var problems: [(path: String, problem: String)] = []
        for (index, step) in saga.steps.enumerated() {
            let here = "\(path).steps[\(index)]"
            problems += member(step.service, step.parameters, at: here, lookup)
            if let compensation = step.compensation {
                problems += member(compensation.service, compensation.parameters, at: "\(here).compensation", lookup)
            }
        }
        return problems
    }

    private static func member(
        _ name: String, _ mappings: [SagaMapping], at path: String, _ lookup: (String) -> ServiceDefinition?
    ) -> [(path: String, problem: String)] {
        guard let service = lookup(name) else { return [("\(path).service", "no service named \(name)")] }
        guard service.kind == .procedure else {
            return [
                (
                    "\(path).service",
                    "\(name) is a \(service.kind.rawValue) service; a saga's steps are procedure services "
                        + "(composites do not nest, so no cycle can form)"
                )
            ]
        }
        var problems: [(path: String, problem: String)] = []
        let inputs = service.parameters.filter { $0.direction != .out }
        for mapping in mappings where !inputs.contains(where: { $0.name == mapping.parameter }) {
            problems.append(
                (
                    "\(path).parameters.\(mapping.parameter)",
                    "\(name) has no parameter \(mapping.parameter); it has: "
                        + (inputs.isEmpty ? "none" : inputs.map(\.name).joined(separator: ", "))
                ))
        }
        for parameter in inputs
        where parameter.required && parameter.defaultValue == nil
            && !mappings.contains(where: { $0.parameter == parameter.name })
        {
            problems.append(("\(path).parameters", "\(parameter.name) is required by \(name) and is not mapped"))
        }
        return problems
    }
}
