/// How many `service_error` rows one worker may write for requests without a valid key: a token
/// bucket of `perSecond` tokens refilled continuously, holding at most `perSecond` (so a burst
/// after a quiet time is one second's worth). A flood of 404s or 401s from anyone on the network
/// then adds at most `perSecond` rows per second per worker to the control database, however fast
/// it comes; the rest are answered alike (with `reference: null`) and counted as dropped.
///
/// Pure: the caller passes the monotonic time, so tests need no clock.
public struct ErrorRowBudget: Sendable, Equatable {
    /// Rows per second, and the most the bucket holds; 0 writes none.
    public let perSecond: Double
    private var tokens: Double
    private var refilledAt: Double?

    public init(perSecond: Double) {
        self.perSecond = max(0, perSecond)
        tokens = self.perSecond
    }

    /// Whether a row may be written at `seconds` (any monotonic clock); takes its token if so.
    public mutating func take(at seconds: Double) -> Bool {
        if let refilledAt, seconds > refilledAt {
            tokens = min(perSecond, tokens + (seconds - refilledAt) * perSecond)
        }
        refilledAt = max(refilledAt ?? seconds, seconds)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// The default: 10 rows per second per worker.
    public static let defaultPerSecond = 10.0

    /// The budget `SPO_UNAUTHENTICATED_ERROR_ROWS` asks for (rows per second per worker, a
    /// non-negative integer), or nil when the value is not one.
    public static func parse(_ text: String?) -> ErrorRowBudget? {
        guard let text else { return ErrorRowBudget(perSecond: defaultPerSecond) }
        guard let value = Int(text), value >= 0, value <= 1_000_000 else { return nil }
        return ErrorRowBudget(perSecond: Double(value))
    }
}
