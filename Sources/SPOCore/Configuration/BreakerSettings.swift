import SPOJSON

/// How a connection's circuit breaker judges its database: the `breaker` member of a connection
/// document, every field optional with the defaults below.
///
/// The window counts calls (attempts, each retry included), not seconds: a count needs no clock
/// on the request path, and a quiet service is judged on as much evidence as a busy one.
public struct BreakerSettings: Sendable, Equatable {
    /// False: calls are never refused, whatever happens.
    public var enabled = true
    /// Percentage of infrastructure failures in the window at which the breaker opens.
    public var failureRateThreshold = 50
    /// How many of the latest calls the failure rate is computed over (per worker).
    public var windowCalls = 20
    /// Calls the window must hold before the rate counts: a first failure alone opens nothing.
    public var minimumCalls = 10
    /// How long the breaker stays open before probe calls may test the database again.
    public var openMilliseconds = 30_000
    /// Probe calls allowed at once, pool-wide, while half-open; that many successes close the
    /// breaker, one infrastructure failure opens it again.
    public var halfOpenProbes = 3

    public init() {}

    /// The ranges the document and the table's checks allow.
    public static let thresholdRange = 1...100
    public static let windowRange = 1...1000
    public static let openRange = 100...86_400_000
    public static let probesRange = 1...100

    /// The settings of a connection document's `breaker` member. Returns every problem instead
    /// when there are any, each with its path (`breaker.minimum_calls`).
    public static func read(_ value: JSONValue) -> Result<BreakerSettings, ConfigurationError> {
        guard let members = value.members else {
            return .failure(ConfigurationError("breaker", "must be an object of breaker settings"))
        }
        var settings = BreakerSettings()
        var problems: [(path: String, problem: String)] = []
        func integer(_ key: String, _ range: ClosedRange<Int>) -> Int? {
            guard let member = value[key], member != .null else { return nil }
            guard let number = member.intValue, range.contains(number) else {
                problems.append(
                    ("breaker.\(key)", "must be an integer from \(range.lowerBound) to \(range.upperBound)"))
                return nil
            }
            return number
        }
        switch value["enabled"] {
        case nil, .null?: break
        case .bool(let flag)?: settings.enabled = flag
        default: problems.append(("breaker.enabled", "must be true or false"))
        }
        settings.failureRateThreshold =
            integer("failure_rate_threshold", thresholdRange) ?? settings.failureRateThreshold
        settings.windowCalls = integer("window_calls", windowRange) ?? settings.windowCalls
        settings.minimumCalls = integer("minimum_calls", windowRange) ?? settings.minimumCalls
        settings.openMilliseconds = integer("open_ms", openRange) ?? settings.openMilliseconds
        settings.halfOpenProbes = integer("half_open_probes", probesRange) ?? settings.halfOpenProbes
        if settings.minimumCalls > settings.windowCalls {
            problems.append(
                (
                    "breaker.minimum_calls",
                    "must not exceed window_calls (\(settings.windowCalls)): the window holds no more"
                ))
        }
        for member in members where !keys.contains(member.key) {
            problems.append(("breaker.\(member.key)", "unknown field; allowed: " + keys.joined(separator: ", ")))
        }
        return problems.isEmpty ? .success(settings) : .failure(ConfigurationError(problems: problems))
    }

    static let keys = [
        "enabled", "failure_rate_threshold", "half_open_probes", "minimum_calls", "open_ms", "window_calls",
    ]

    /// The `breaker` member of a connection document: every field, so an export says what applies.
    public var document: JSONValue {
        .object([
            "enabled": .bool(enabled), "failure_rate_threshold": .number(failureRateThreshold),
            "window_calls": .number(windowCalls), "minimum_calls": .number(minimumCalls),
            "open_ms": .number(openMilliseconds), "half_open_probes": .number(halfOpenProbes),
        ])
    }
}
