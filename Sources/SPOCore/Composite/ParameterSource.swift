import SPOJSON

/// Where a member of a composite service (a parallel member, a saga step or its compensation)
/// takes one parameter's value from: a path into the composite's context (a string starting
/// with `$`, see `MappingPath`) or a literal JSON value (anything else).
///
/// A literal string that must start with `$` is written as `{"literal": "$…"}`.
public enum ParameterSource: Sendable, Equatable {
    case path(MappingPath)
    case literal(JSONValue)

    /// Reads one entry of a `parameters` mapping; the error says what is wrong, for the
    /// document's problem list.
    public static func read(_ value: JSONValue) -> Result<ParameterSource, MappingError> {
        switch value {
        case .string(let text) where text.hasPrefix("$"):
            guard let path = MappingPath(parsing: text) else {
                return .failure(
                    MappingError(
                        "\(text) is not a path: write $.input.<parameter> or $.steps.<step>.data followed by"
                            + " .<member> or [<index>]"))
            }
            return .success(.path(path))
        case .object(let members) where members.count == 1 && members[0].key == "literal":
            return .success(.literal(members[0].value))
        default:
            return .success(.literal(value))
        }
    }

    /// The value for `context`, nil when a path leads nowhere.
    public func value(in context: JSONValue) -> JSONValue? {
        switch self {
        case .path(let path): path.resolve(in: context)
        case .literal(let value): value
        }
    }

    /// The form a document writes it in, so a mapping round-trips through GET and PUT.
    public var documentValue: JSONValue {
        switch self {
        case .path(let path): .string(path.description)
        case .literal(.string(let text)) where text.hasPrefix("$"): .object([.init("literal", .string(text))])
        case .literal(let value): value
        }
    }
}

/// A mapping entry that cannot be read.
public struct MappingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
