import Foundation
import Logging
import SPOCore
import SPOJSON
import SPOPostgres

/// Structured logs: one JSON object per line on standard error (see `JSONLogHandler`), through
/// swift-log, one `Logger` per component. While a request is handled, every line carries its
/// correlation id, and its execution id and service once known (`RequestScope`).
///
/// `Log.info("message", ["field": …])` writes as the process's component (`Log.component`);
/// `component:` names another. Message and fields are evaluated only when the line is written.
public enum Log {
    public enum Level: String, Sendable, Comparable {
        case debug, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.swiftLog < rhs.swiftLog }

        /// The swift-log level.
        public var swiftLog: Logger.Level {
            switch self {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            case .error: .error
            }
        }
    }

    /// The levels `SPO_LOG_LEVEL` gives; a bad value leaves the defaults here, and `configure`
    /// reports it (the command line calls it first).
    static let initialLevels = (try? LogLevels(parsing: environmentLevels ?? "")) ?? LogLevels()

    private static var environmentLevels: String? { ProcessInfo.processInfo.environment["SPO_LOG_LEVEL"] }

    /// Each component's level, shared with its logger's handler.
    private static let cells = LogComponent.allCases.map { LogLevelCell(initialLevels.level(of: $0)) }

    private static let loggers: [Logger] = LogComponent.allCases.map { component in
        Logger(label: component.name) { _ in
            JSONLogHandler(
                component: component.name, level: cells[component.rawValue],
                metadataProvider: RequestScope.metadataProvider)
        }
    }

    /// The logger of `component`.
    public static func logger(_ component: LogComponent) -> Logger { loggers[component.rawValue] }

    /// Sets every component's level at once (tests quiet everything with `.error`); reads the
    /// process component's.
    public static var threshold: Level {
        get {
            switch cells[component.rawValue].level {
            case .trace, .debug: .debug
            case .info, .notice: .info
            case .warning: .warning
            case .error, .critical: .error
            }
        }
        set { for cell in cells { cell.level = newValue.swiftLog } }
    }

    /// The component of this process's lines (`supervisor`, `worker`, `dev`, …).
    nonisolated(unsafe) public static var component: LogComponent = .spo

    /// Reads `SPO_LOG_LEVEL` (or `levels`) and applies it, makes swift-log's default handler this
    /// one (for any `Logger(label:)`), and routes PostgreSQL's notices into the logs. Called once,
    /// first thing; throws a problem that says what is allowed.
    public static func configure(levels text: String? = nil) throws(LogLevels.Problem) {
        let levels = try LogLevels(parsing: text ?? environmentLevels ?? "")
        for component in LogComponent.allCases { cells[component.rawValue].level = levels.level(of: component) }
        LoggingSystem.bootstrap(
            { label, provider in
                JSONLogHandler(
                    component: label, level: LogLevelCell(levels.level(of: LogComponent(name: label) ?? .spo)),
                    metadataProvider: provider)
            }, metadataProvider: RequestScope.metadataProvider)
        PGConnectOptions.defaultNoticeHandler = { notice in Log.postgres(notice) }
    }

    public static func debug(
        _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, JSONValue> = [:],
        component: LogComponent? = nil
    ) {
        write(.debug, component, message, fields)
    }
    public static func info(
        _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, JSONValue> = [:],
        component: LogComponent? = nil
    ) {
        write(.info, component, message, fields)
    }
    public static func warning(
        _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, JSONValue> = [:],
        component: LogComponent? = nil
    ) {
        write(.warning, component, message, fields)
    }
    public static func error(
        _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, JSONValue> = [:],
        component: LogComponent? = nil
    ) {
        write(.error, component, message, fields)
    }

    /// Whether a line of `level` from `component` (the process's by default) would be written.
    public static func isEnabled(_ level: Level, component: LogComponent? = nil) -> Bool {
        cells[(component ?? Log.component).rawValue].allows(level.swiftLog)
    }

    /// A notice PostgreSQL sent (`RAISE NOTICE` in a procedure): component `postgres`, debug for
    /// DEBUG and LOG, info for INFO and NOTICE, warning for WARNING.
    public static func postgres(_ notice: PGNotice) {
        let entry = entry(for: notice)
        logger(.postgres).log(level: entry.level, "\(notice.message)", metadata: entry.metadata())
    }

    /// The level and fields of a notice's line.
    static func entry(for notice: PGNotice) -> (level: Logger.Level, metadata: () -> Logger.Metadata) {
        let level: Logger.Level =
            switch notice.severity {
            case .debug, .log: .debug
            case .info, .notice: .info
            case .warning: .warning
            }
        return (
            level,
            {
                var metadata: Logger.Metadata = ["severity": .string(notice.severity.rawValue)]
                if let sqlstate = notice.sqlstate { metadata["sqlstate"] = .string(sqlstate) }
                if let detail = notice.detail { metadata["detail"] = .string(detail) }
                if let hint = notice.hint { metadata["hint"] = .string(hint) }
                return metadata
            }
        )
    }

    private static func write(
        _ level: Level, _ component: LogComponent?, _ message: () -> String,
        _ fields: () -> KeyValuePairs<String, JSONValue>
    ) {
        let index = (component ?? Log.component).rawValue
        // Checked first, so neither the message nor the fields are built for a line not written
        // (and the logger is not even copied).
        guard cells[index].allows(level.swiftLog) else { return }
        let logger = loggers[index]
        var metadata: Logger.Metadata = [:]
        for (key, value) in fields() { metadata[key] = LoggedJSON.metadata(value) }
        logger.log(level: level.swiftLog, "\(message())", metadata: metadata)
    }
}
