internal import CLibPQ
import Foundation

/// A libpq connection string (`host=… dbname=…` or a `postgresql://` URI) as libpq itself reads
/// it, with `PQconninfoParse`: URIs, percent-encoding, quoting and keyword synonyms are resolved
/// exactly as a connection would resolve them, so checks on the result cannot be fooled by
/// another spelling of the same setting. Nothing is connected and no defaults or environment
/// variables are applied: only what the text itself sets.
public struct PGConninfo: Sendable, Equatable {
    /// One setting the text gives.
    public struct Option: Sendable, Equatable {
        /// libpq's keyword (`host`, `dbname`, `password`, …), whatever spelling the text used.
        public var keyword: String
        public var value: String
        /// libpq marks the settings that are secrets (`password`, `sslpassword`) to be hidden in
        /// dialogs; such a value must never be stored or shown.
        public var isSecret: Bool
    }

    /// The settings the text gives, in libpq's order of keywords.
    public let options: [Option]

    /// Parses `conninfo`; throws libpq's own message when it is not a connection string.
    public init(parsing conninfo: String) throws(PGConninfoError) {
        var message: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(conninfo, &message) else {
            defer { if let message { PQfreemem(message) } }
            let text = message.map { String(cString: $0) } ?? "out of memory parsing a connection string"
            throw PGConninfoError(message: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        defer { PQconninfoFree(parsed) }
        var options: [Option] = []
        var cursor = parsed
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val {
                let display = cursor.pointee.dispchar.map { String(cString: $0) } ?? ""
                options.append(
                    Option(keyword: String(cString: keyword), value: String(cString: value), isSecret: display == "*"))
            }
            cursor += 1
        }
        self.options = options
    }

    /// The value the text gives for `keyword`, if any.
    public subscript(keyword: String) -> String? {
        options.first { $0.keyword == keyword }?.value
    }

    /// Whether libpq would read `text`, given as a `dbname`, as a connection string of its own
    /// (when a connection is opened with `expand_dbname`).
    public static func looksLikeConnectionString(_ text: String) -> Bool {
        text.contains("=") || text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }
}
