import SPOJSON

/// Parameters marked `"sensitive": true` and how their values are kept out of records: the
/// audit's parameters, log lines, the in-flight journal and the audit spool hold the marker
/// instead of the value. Only the call itself (bound parameters) carries it.
public struct SensitiveParameters: Sendable, Equatable {
    /// What stands for a sensitive value wherever parameters are recorded.
    public static let marker: JSONValue = .string("[redacted]")

    /// The names of the sensitive parameters, in the service's order.
    public let names: [String]

    public init(_ specs: [ParameterSpec]) {
        names = specs.filter(\.sensitive).map(\.name)
    }

    public var isEmpty: Bool { names.isEmpty }

    /// `parameters` (a JSON object, as sent or as bound) with every sensitive member's value
    /// replaced by the marker (a JSON null stays null: there is nothing to hide). Anything that is
    /// not an object is returned unchanged, since it cannot name a parameter.
    public func redacting(_ parameters: JSONValue) -> JSONValue {
        guard !names.isEmpty, case .object(let members) = parameters else { return parameters }
        return .object(
            members.map { member in
                guard names.contains(member.key), member.value != .null else { return member }
                return JSONValue.Member(member.key, SensitiveParameters.marker)
            })
    }

    /// The sensitive parameters whose value `recorded` parameters hold only as the marker: a
    /// re-run must be sent them again.
    public func redacted(in recorded: JSONValue) -> [String] {
        names.filter { recorded[$0] == SensitiveParameters.marker }
    }
}
