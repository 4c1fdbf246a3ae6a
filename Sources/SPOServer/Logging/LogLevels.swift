import Logging

/// The least severe level written, per component: `SPO_LOG_LEVEL`, read once at start.
///
/// The value is a comma-separated list: a bare level is the default of every component, and
/// `component=level` sets one component (`info,executor=debug,audit=warning`). Levels are
/// swift-log's: `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`. Unset or
/// empty means `info`.
public struct LogLevels: Sendable, Equatable {
    /// The level of components the value does not name.
    public var defaultLevel: Logger.Level
    /// Levels of the components the value names.
    public var overrides: [LogComponent: Logger.Level]

    public init(defaultLevel: Logger.Level = .info, overrides: [LogComponent: Logger.Level] = [:]) {
        self.defaultLevel = defaultLevel
        self.overrides = overrides
    }

    /// What is wrong with a value, saying what is allowed.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Reads a value such as `info,executor=debug`; throws for an unknown level or component, an
    /// empty item, or a component or default given twice.
    public init(parsing text: String) throws(Problem) {
        self.init()
        var sawDefault = false
        let trimmed = text.trimmingSpaces
        if trimmed.isEmpty { return }
        for rawItem in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(rawItem).trimmingSpaces
            guard !item.isEmpty else { throw Problem(description: "SPO_LOG_LEVEL \(text.quoted): an empty item") }
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).trimmingSpaces
            }
            let level = try LogLevels.level(parts[parts.count - 1], in: text)
            guard parts.count == 2 else {
                if sawDefault { throw Problem(description: "SPO_LOG_LEVEL \(text.quoted): two default levels") }
                sawDefault = true
                defaultLevel = level
                continue
            }
            guard let component = LogComponent(name: parts[0].lowercased()) else {
                throw Problem(
                    description: "SPO_LOG_LEVEL \(text.quoted): unknown component \(parts[0].quoted); components: "
                        + LogComponent.allCases.map(\.name).joined(separator: ", "))
            }
            guard overrides[component] == nil else {
                throw Problem(description: "SPO_LOG_LEVEL \(text.quoted): \(component.name) is given twice")
            }
            overrides[component] = level
        }
    }

    /// The level of `component`.
    public func level(of component: LogComponent) -> Logger.Level { overrides[component] ?? defaultLevel }

    private static func level(_ name: String, in text: String) throws(Problem) -> Logger.Level {
        guard let level = Logger.Level(rawValue: name.lowercased()) else {
            throw Problem(
                description: "SPO_LOG_LEVEL \(text.quoted): unknown level \(name.quoted); levels: "
                    + Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                    + " (a bare level for every component, component=level for one)")
        }
        return level
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    fileprivate var quoted: String { "\"" + self + "\"" }
}
