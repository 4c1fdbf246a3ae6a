import Foundation
import SPOCore
import SPOJSON

/// Structured logs: one JSON object per line on standard error, with time, level, process and
/// message, plus any fields (`correlation_id`, `service`, …).
public enum Log {
    public enum Level: String, Sendable, Comparable {
        case debug, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.order < rhs.order }
        private var order: Int { [.debug: 0, .info: 1, .warning: 2, .error: 3][self]! }
    }

    /// The least severe level written; `SPO_LOG_LEVEL` sets it (default `info`).
    nonisolated(unsafe) public static var threshold: Level =
        Level(rawValue: ProcessInfo.processInfo.environment["SPO_LOG_LEVEL"] ?? "") ?? .info

    /// The name of this process in logs (`supervisor`, `worker`, `dev`, …).
    nonisolated(unsafe) public static var component = "spo"

    public static func debug(_ message: String, _ fields: KeyValuePairs<String, JSONValue> = [:]) {
        write(.debug, message, fields)
    }
    public static func info(_ message: String, _ fields: KeyValuePairs<String, JSONValue> = [:]) {
        write(.info, message, fields)
    }
    public static func warning(_ message: String, _ fields: KeyValuePairs<String, JSONValue> = [:]) {
        write(.warning, message, fields)
    }
    public static func error(_ message: String, _ fields: KeyValuePairs<String, JSONValue> = [:]) {
        write(.error, message, fields)
    }

    private static func write(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, JSONValue>) {
        guard level >= threshold else { return }
        var members: [JSONValue.Member] = [
            .init("ts", .string(timestamp())), .init("level", .string(level.rawValue)),
            .init("component", .string(component)), .init("pid", .number(Int(getpid()))),
            .init("msg", .string(message)),
        ]
        members += fields.map { JSONValue.Member($0.key, $0.value) }
        var line: [UInt8] = []
        JSONValue.object(members).write(to: &line)
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}
