import SPOJSON

/// One parameter of a configured procedure: its PostgreSQL type, direction and the rules a
/// client's value must satisfy.
public struct ParameterSpec: Sendable, Equatable {
    public enum Direction: String, Sendable, Equatable {
        case `in` = "IN"
        case out = "OUT"
        case `inout` = "INOUT"

        /// Whether a client supplies a value for it.
        public var isInput: Bool { self != .out }
        /// Whether the procedure hands a value back in it.
        public var isOutput: Bool { self != .in }
    }

    public var name: String
    public var type: SQLType
    public var direction: Direction
    public var required: Bool
    /// Used when the client omits the parameter; validated like a client value.
    public var defaultValue: JSONValue?
    /// Inclusive bounds for numeric types, kept as exact literals.
    public var minimum: String?
    public var maximum: String?
    /// Longest string, in characters (Unicode scalars, as PostgreSQL counts them).
    public var maxLength: Int?
    /// A regular expression the whole string must match.
    public var pattern: String?
    /// The allowed values.
    public var allowedValues: [JSONValue]?
    public var description: String?
    /// A secret value (a card number, a password): redacted in the audit, logs, journals and the
    /// spool (`SensitiveParameters`), so reprocessing needs it sent again.
    public var sensitive: Bool

    public init(
        name: String, type: SQLType, direction: Direction = .in, required: Bool = false, defaultValue: JSONValue? = nil,
        minimum: String? = nil, maximum: String? = nil, maxLength: Int? = nil, pattern: String? = nil,
        allowedValues: [JSONValue]? = nil, description: String? = nil, sensitive: Bool = false
    ) {
        self.name = name
        self.type = type
        self.direction = direction
        self.required = required
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
        self.maxLength = maxLength
        self.pattern = pattern
        self.allowedValues = allowedValues
        self.description = description
        self.sensitive = sensitive
    }
}
