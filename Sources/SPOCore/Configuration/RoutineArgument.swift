import SPOJSON

/// One argument of a routine's call, as the catalog described it when the service was written.
///
/// A service keeps its routine's arguments in PostgreSQL's positional order (for a function its
/// inputs, for a procedure every argument, OUT ones included), so its calls can pass an argument
/// the routine left unnamed by position, and a VARIADIC one with the `VARIADIC` keyword.
public struct RoutineArgument: Sendable, Equatable {
    /// The name the service's parameters use: the argument's own, or `argN` when it has none
    /// (`N` its 1-based position in the call, as `$N` names it in a SQL function's body).
    public var name: String
    /// False when the routine leaves the argument unnamed: then only a positional call reaches it.
    public var isNamed: Bool
    /// The routine's VARIADIC argument: a client sends an array, the call passes `VARIADIC $n`.
    public var isVariadic: Bool

    public init(name: String, isNamed: Bool = true, isVariadic: Bool = false) {
        self.name = name
        self.isNamed = isNamed
        self.isVariadic = isVariadic
    }

    /// The name given to the unnamed argument at `position` (1-based), unless a named argument
    /// already has it: then underscores are appended until it is unique.
    package static func generatedName(position: Int, taken: Set<String>) -> String {
        var name = "arg\(position)"
        while taken.contains(name) { name += "_" }
        return name
    }

    /// As stored in `spo.service_configuration.procedure_arguments`.
    public var document: JSONValue {
        .object(["name": .string(name), "named": .bool(isNamed), "variadic": .bool(isVariadic)])
    }

    /// Reads what `document` wrote; nil for anything else.
    public init?(document: JSONValue) {
        guard let name = document["name"]?.stringValue, !name.isEmpty,
            case .bool(let named)? = document["named"], case .bool(let variadic)? = document["variadic"]
        else { return nil }
        self.init(name: name, isNamed: named, isVariadic: variadic)
    }
}
