/// A JSON document as a Swift value.
///
/// Numbers keep the exact text they were written with (`12345678901234567890.123456789` stays
/// that), so values can travel to PostgreSQL and back without losing digits. `raw` holds a
/// fragment that is already valid JSON (for example the output of PostgreSQL's `json_agg`) and is
/// written out verbatim.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text, as it appeared in the document or as produced by `number(_:)`.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order.
    case object([Member])
    /// Pre-encoded JSON, written as is. Never produced by parsing.
    case raw(String)

    /// One object member.
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
        public init(_ key: String, _ value: JSONValue) {
            self.key = key
            self.value = value
        }
    }
}

extension JSONValue {
    /// A number from an integer.
    public static func number(_ value: Int) -> JSONValue { .number(String(value)) }

    /// A number from a double; non-finite values become `null` (JSON has no NaN).
    public static func number(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }

    /// An object from ordered key/value pairs.
    public static func object(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(pairs.map { Member($0.key, $0.value) })
    }

    /// The member named `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The object's members, or nil when this is not an object.
    public var members: [Member]? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The value as an integer when it is a number without fraction or exponent that fits.
    public var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The JSON type's name as clients know it: `object`, `array`, `string`, `number`, `boolean`, `null`.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        case .raw: "json"
        }
    }
}
