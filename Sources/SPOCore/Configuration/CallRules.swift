/// What PostgreSQL's call syntax demands of a service's parameters, checked when the service is
/// written, so that every call its configuration admits matches the routine (instead of failing
/// later as SQLSTATE 42883 on each request that omits something).
package enum CallRules {
    package typealias Problem = (path: String, problem: String)

    /// Every problem of `parameters` (as the document configures them) for calling `routine`.
    package static func problems(_ parameters: [ParameterSpec], calling routine: RoutineDescription) -> [Problem] {
        var problems: [Problem] = []
        let catalog = Dictionary(routine.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, parameter) in parameters.enumerated() where parameter.direction.isInput {
            // Left out of a call, it must be filled in by a default: the routine's or the configured one.
            guard !parameter.required, parameter.defaultValue == nil, catalog[parameter.name]?.required == true else {
                continue
            }
            problems.append(
                (
                    "parameters[\(index)].required",
                    "\(parameter.name) is optional, but \(routine.signature) gives it no default and none is "
                        + "configured, so a call without it would match no routine; make it required or configure "
                        + "a default"
                ))
        }
        return problems + positionalProblems(parameters, arguments: routine.arguments, signature: routine.signature)
    }

    /// An argument the routine leaves unnamed can only be passed by position, and PostgreSQL
    /// cannot skip a positional argument: every argument before it must be in every call.
    package static func positionalProblems(
        _ parameters: [ParameterSpec], arguments: [RoutineArgument], signature: String
    ) -> [Problem] {
        let configured = Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        guard let last = arguments.lastIndex(where: { !$0.isNamed && configured[$0.name] != nil }) else { return [] }
        let unnamed = arguments[last].name
        return arguments[..<last].compactMap { argument -> Problem? in
            let always = configured[argument.name].map {
                !$0.direction.isInput || $0.required || $0.defaultValue != nil
            }
            guard always != true else { return nil }
            return (
                "parameters",
                "\(unnamed) has no name in \(signature), so calls pass it by position, and every argument before "
                    + "it too; \(argument.name) "
                    + (always == nil ? "is not configured" : "may be left out")
                    + ": configure it as required or with a default"
            )
        }
    }
}
