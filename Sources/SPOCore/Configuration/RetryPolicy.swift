import Foundation

/// When and how often a failed execution is tried again.
public struct RetryPolicy: Sendable, Equatable {
    public var name: String
    /// Attempts in all, the first included (1 = never retry).
    public var maxAttempts: Int
    public var initialBackoffMilliseconds: Int
    public var multiplier: Double
    public var maxBackoffMilliseconds: Int
    /// Fraction of each delay that is randomised (0.2 = ±20 %), so retries of many clients spread out.
    public var jitter: Double
    /// SQLSTATEs (five characters) or classes (two characters) worth retrying.
    public var retryableSQLStates: [String]

    /// Transient failures only: serialization and deadlock, lost connections, shutdowns, too many clients.
    public static let transientSQLStates = ["40001", "40P01", "08", "57P01", "57P02", "57P03", "53300"]

    /// SQLSTATE classes that mean the procedure refused the call (raised, bad data, constraint,
    /// bad SQL): retrying cannot help, so a policy may not list them.
    public static let businessClasses: Set<String> = ["P0", "22", "23", "42", "2B", "44"]

    /// The policy used when a service names none: one attempt.
    public static let none = RetryPolicy(
        name: "none", maxAttempts: 1, initialBackoffMilliseconds: 0, multiplier: 1, maxBackoffMilliseconds: 0,
        jitter: 0, retryableSQLStates: [])

    public init(
        name: String, maxAttempts: Int, initialBackoffMilliseconds: Int, multiplier: Double,
        maxBackoffMilliseconds: Int, jitter: Double, retryableSQLStates: [String]
    ) {
        self.name = name
        self.maxAttempts = maxAttempts
        self.initialBackoffMilliseconds = initialBackoffMilliseconds
        self.multiplier = multiplier
        self.maxBackoffMilliseconds = maxBackoffMilliseconds
        self.jitter = jitter
        self.retryableSQLStates = retryableSQLStates
    }

    /// Whether a failure with this SQLSTATE may be retried under this policy.
    public func isRetryable(sqlstate: String) -> Bool {
        !RetryPolicy.businessClasses.contains(String(sqlstate.prefix(2)))
            && retryableSQLStates.contains { $0.count == 2 ? sqlstate.hasPrefix($0) : $0 == sqlstate }
    }

    /// The pause before attempt `attempt + 1` (attempt counts from 1), jittered by `random` in 0..<1.
    public func backoff(afterAttempt attempt: Int, random: Double) -> Duration {
        let base = Double(initialBackoffMilliseconds) * pow(multiplier, Double(attempt - 1))
        let capped = min(base, Double(maxBackoffMilliseconds))
        let jittered = capped * (1 + jitter * (2 * random - 1))
        return .milliseconds(max(0, Int(jittered.rounded())))
    }
}
