/// How much execution history to keep: `spo prune --older-than 30d` (days) or `12h` (hours).
public struct RetentionPeriod: Equatable, Sendable {
    public enum Unit: String, Sendable {
        case days = "d"
        case hours = "h"
    }

    public let count: Int
    public let unit: Unit

    /// The largest count accepted: about 27 years of days.
    public static let maximumCount = 9999

    /// Parses `<count><unit>`, e.g. `30d`; nil for anything else (a count from 1 to 9999).
    public init?(_ text: String) {
        guard let last = text.last, let unit = Unit(rawValue: String(last)) else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int(digits),
            (1...Self.maximumCount).contains(count)
        else { return nil }
        self.count = count
        self.unit = unit
    }

    /// As a PostgreSQL interval, e.g. `30 days`.
    public var interval: String {
        "\(count) " + (unit == .days ? "days" : "hours")
    }
}
