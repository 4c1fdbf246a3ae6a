import SPOJSON

/// A reference into a composite service's context, written `$.input.p_id` or
/// `$.steps.create_order.data[0].order_id`: `$` is the context object, `.name` a member of an
/// object and `[n]` an element of an array.
///
/// The context a composite service resolves against is one JSON object:
/// - `input`: the composite's validated request parameters, by name;
/// - `steps`: for a saga, each finished step's outcome by step name, `{"data": …}`, where `data` is
///   what the step's service answered as `data` (an array of rows, a value, or OUT parameters).
///
/// One parser for validation, OpenAPI and execution, so a mapping accepted at write time is the
/// one that runs.
public struct MappingPath: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// One step of the walk from the context object.
    public enum Component: Sendable, Equatable, Hashable {
        case member(String)
        case index(Int)
    }

    /// The walk, from the context object; never empty.
    public let components: [Component]

    public init(_ components: [Component]) { self.components = components }

    /// Parses `$.a.b[0].c`. Member names are identifiers as services and parameters use them
    /// (letters, digits, `_`, `-`); nil for anything else, including a bare `$`.
    public init?(parsing text: String) {
        guard text.hasPrefix("$") else { return nil }
        var components: [Component] = []
        var rest = Substring(text.dropFirst())
        while let first = rest.first {
            if first == "." {
                let name = rest.dropFirst().prefix { Self.isNameCharacter($0) }
                guard !name.isEmpty else { return nil }
                components.append(.member(String(name)))
                rest = rest.dropFirst(1 + name.count)
            } else if first == "[" {
                let digits = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, digits.count <= 9, rest.dropFirst(1 + digits.count).first == "]",
                    let index = Int(digits)
                else { return nil }
                components.append(.index(index))
                rest = rest.dropFirst(2 + digits.count)
            } else {
                return nil
            }
        }
        guard !components.isEmpty else { return nil }
        self.components = components
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "_" || character == "-")
    }

    /// The request parameter this path starts from (`$.input.p_id` → `p_id`).
    public var inputParameter: String? {
        guard components.count >= 2, components[0] == .member("input"), case .member(let name) = components[1]
        else { return nil }
        return name
    }

    /// The saga step whose output this path reads (`$.steps.create_order.data…` → `create_order`).
    public var step: String? {
        guard components.count >= 3, components[0] == .member("steps"), case .member(let name) = components[1],
            components[2] == .member("data")
        else { return nil }
        return name
    }

    /// The value at this path in `context`, or nil where the path leads nowhere (a missing
    /// member, an index past the end, or a step into a scalar).
    public func resolve(in context: JSONValue) -> JSONValue? {
        var current = context
        for component in components {
            switch (component, current) {
            case (.member(let name), .object):
                guard let next = current[name] else { return nil }
                current = next
            case (.index(let index), .array(let items)):
                guard index < items.count else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    public var description: String {
        "$"
            + components.map { component in
                switch component {
                case .member(let name): "." + name
                case .index(let index): "[\(index)]"
                }
            }.joined()
    }
}
