import Glibc
import Logging
import SPOJSON

/// A swift-log handler writing one JSON object per line, each with one `write(2)` (so lines of
/// several processes sharing a descriptor never interleave):
///
///     {"time":"2026-12-01T14:03:07.412Z","level":"info","component":"worker","pid":4242,
///      "event":"execution failed","correlation_id":"…","execution_id":"…","service":"…",…}
///
/// `time` (UTC, milliseconds), `level`, `component`, `pid` and `event` (the message) come
/// first, then the request's fields (`correlation_id`, `execution_id`, `service`, `duration_ms`)
/// when present, then the others by name. Metadata from the provider (the request scope), the
/// logger and the call are merged in that order, the call's winning.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let component: String
    private let cell: LogLevelCell
    private let output: Int32

    /// The request's fields, written right after the fixed ones in this order.
    static let leadingKeys = ["correlation_id", "execution_id", "service", "duration_ms"]

    /// A handler for `component` whose level is `cell`'s (shared with its other copies), writing
    /// to descriptor `output` (standard error by default).
    public init(
        component: String, level cell: LogLevelCell, output: Int32 = 2, metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.component = component
        self.cell = cell
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public var logLevel: Logger.Level {
        get { cell.level }
        set { cell.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { $1 }
        if let given = event.metadata { merged.merge(given) { $1 } }
        if let error = event.error { merged["error"] = .string(String(describing: error)) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var line = JSONLogHandler.line(
            level: event.level, event: event.message.description, component: component, pid: Int(getpid()),
            time: now, metadata: merged)
        line.append(UInt8(ascii: "\n"))
        JSONLogHandler.writeAll(line, to: output)
    }

    /// The JSON object of one line, without its newline.
    static func line(
        level: Logger.Level, event: String, component: String, pid: Int, time: timespec, metadata: Logger.Metadata
    ) -> [UInt8] {
        var members: [JSONValue.Member] = [
            .init("time", .string(timestamp(time))), .init("level", .string(level.rawValue)),
            .init("component", .string(component)), .init("pid", .number(pid)), .init("event", .string(event)),
        ]
        for key in leadingKeys { if let value = metadata[key] { members.append(.init(key, json(value))) } }
        for key in metadata.keys.sorted() where !leadingKeys.contains(key) && !isFixed(key) {
            members.append(.init(key, json(metadata[key]!)))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        JSONValue.object(members).write(to: &bytes)
        return bytes
    }

    /// The fixed fields cannot be overwritten by metadata of the same name.
    private static func isFixed(_ key: String) -> Bool {
        key == "time" || key == "level" || key == "component" || key == "pid" || key == "event"
    }

    /// A metadata value as JSON: numbers, booleans and `LoggedJSON` values as themselves.
    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let logged as LoggedJSON: return logged.value
            case let number as Int: return .number(number)
            case let number as Double: return .number(number)
            case let flag as Bool: return .bool(flag)
            default: return .string(convertible.description)
            }
        case .dictionary(let dictionary):
            return .object(dictionary.keys.sorted().map { JSONValue.Member($0, json(dictionary[$0]!)) })
        case .array(let items):
            return .array(items.map(json))
        }
    }

    /// ISO 8601 in UTC with milliseconds: `2026-12-01T14:03:07.412Z`.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        text.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        text.append(UInt8(ascii: "."))
        digits(Int(time.tv_nsec) / 1_000_000, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    /// One `write(2)` for the line; more only if the descriptor takes part of it (a full pipe).
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
