import Logging
import SPOJSON

/// A JSON value carried as swift-log metadata (`.stringConvertible`), so the JSON handler writes
/// it as it is — a number as a number, null as null — instead of as its description.
public struct LoggedJSON: CustomStringConvertible, Sendable {
    public var value: JSONValue

    public init(_ value: JSONValue) {
        self.value = value
    }

    public var description: String { value.serialized() }

    /// Metadata value for `value`: strings as strings, anything else wrapped.
    public static func metadata(_ value: JSONValue) -> Logger.MetadataValue {
        if case .string(let text) = value { return .string(text) }
        return .stringConvertible(LoggedJSON(value))
    }
}
