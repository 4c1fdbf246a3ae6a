/// The write-time checks of a parallel service against the configuration it joins: what the
/// document alone cannot tell (its members' services and their parameters).
public enum ParallelRules {
    /// Every problem of `members` (of a composite whose request parameters are `input`) in
    /// `configuration`, with paths like `members[1].parameters.p_id`.
    public static func problems(
        members: [ParallelMember], input: [ParameterSpec], in configuration: Configuration
    ) -> [(path: String, problem: String)] {
        var problems: [(path: String, problem: String)] = []
        if members.isEmpty { problems.append(("members", "a parallel service needs at least one member")) }
        if members.count > ParallelMember.limit {
            problems.append(("members", "at most \(ParallelMember.limit) members"))
        }
        var seen: Set<String> = []
        let inputNames = Set(input.map(\.name))
        for (index, member) in members.enumerated() {
            let path = "members[\(index)]"
            if !seen.insert(member.name).inserted {
                problems.append(("\(path).name", "\(member.name) is listed more than once"))
            }
            guard let service = configuration.services[member.service] else {
                problems.append(("\(path).service", "no service named \(member.service)"))
                continue
            }
            // No nesting: a member is a procedure service, which also rules out cycles.
            guard service.kind == .procedure else {
                problems.append(
                    (
                        "\(path).service",
                        "\(member.service) is a \(service.kind.rawValue) service; members must be procedure services"
                    ))
                continue
            }
            let own = Dictionary(service.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for (name, source) in member.parameters {
                if own[name] == nil || own[name]?.direction == .out {
                    problems.append(
                        (
                            "\(path).parameters.\(name)",
                            "\(member.service) has no input parameter \(name); it has: "
                                + service.parameters.filter { $0.direction != .out }.map(\.name).joined(separator: ", ")
                        ))
                }
                guard case .path(let mapping) = source else { continue }
                if let parameter = mapping.inputParameter {
                    if !inputNames.contains(parameter) {
                        problems.append(("\(path).parameters.\(name)", "\(mapping) names no parameter of this service"))
                    }
                } else {
                    problems.append(
                        ("\(path).parameters.\(name)", "\(mapping): a parallel member reads only $.input.<parameter>"))
                }
            }
            let mapped = Set(member.parameters.map(\.name))
            for parameter in service.parameters where parameter.required && parameter.direction != .out {
                if !mapped.contains(parameter.name) && parameter.defaultValue == nil {
                    problems.append(("\(path).parameters", "\(member.service) requires \(parameter.name); map it"))
                }
            }
        }
        return problems
    }
}
