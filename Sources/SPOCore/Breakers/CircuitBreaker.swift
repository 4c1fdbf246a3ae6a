import SPOPostgres

/// One worker's copy of one connection's breaker, and its own window of recent calls.
///
/// The state is the pool's (adopted from `spo.circuit_breaker`, which changes only on
/// transitions); the window is this worker's: it decides when this worker asks the pool to open
/// the breaker. Reading it costs no clock and no system call while closed. Pure: the caller
/// supplies the time and carries transitions to the shared table.
public final class CircuitBreaker {
    /// What a call may do.
    public enum Admission: Equatable, Sendable {
        /// Go ahead (closed, or the breaker is disabled).
        case call
        /// The open duration passed: the call may test the database if it gets a probe slot.
        case probe
        /// Refused; probes may be made after `retryAfter`.
        case refuse(retryAfter: Duration)
    }

    public let connection: String
    public private(set) var settings: BreakerSettings
    public private(set) var state: BreakerState = .closed
    /// The generation of the shared row this copy follows (0: no row yet, closed).
    public private(set) var generation: Int64 = 0
    /// While open: when probes may start.
    public private(set) var probeDue: ContinuousClock.Instant?
    /// The shared row as last seen, for what administration and metrics show.
    public private(set) var shared: BreakerSnapshot
    /// The latest calls, a ring: true for an infrastructure failure.
    private var outcomes: [Bool]
    private var next = 0
    private var filled = 0
    private var failures = 0
    /// After a probe slot was refused (all taken): when this worker may ask again, so a half-open
    /// breaker costs the pool one claim per worker per interval, not one per request.
    private var nextClaim: ContinuousClock.Instant?
    /// How long a worker waits before claiming a probe slot again after a refusal.
    public static let claimInterval: Duration = .milliseconds(200)

    public init(connection: String, settings: BreakerSettings = BreakerSettings()) {
        self.connection = connection
        self.settings = settings
        shared = BreakerSnapshot(connection: connection)
        outcomes = Array(repeating: false, count: settings.windowCalls)
    }

    /// Whether an attempt that ended in `error` counts against the database: it could not be
    /// reached, the connection broke or timed out, or the server is going away (SQLSTATE classes
    /// 08 and 57). Errors the procedure raised are the call's, not the database's.
    public static func countsAgainst(_ error: PGError) -> Bool {
        switch error.kind {
        case .connection, .timeout: return true
        case .server: return error.sqlstate.hasPrefix("08") || error.sqlstate.hasPrefix("57")
        case .resultTooLarge: return false
        }
    }

    /// What a call may do now. `now` is read only when the breaker is not closed.
    public func admission(at now: @autoclosure () -> ContinuousClock.Instant) -> Admission {
        if state == .closed || !settings.enabled { return .call }
        let now = now()
        if let probeDue, now < probeDue { return .refuse(retryAfter: probeDue - now) }
        if let nextClaim, now < nextClaim { return .refuse(retryAfter: nextClaim - now) }
        return .probe
    }

    /// Counts a call's outcome in the window; true when the window now says to open (the
    /// failure rate reached the threshold over at least the minimum number of calls).
    public func record(failure: Bool) -> Bool {
        guard state == .closed, settings.enabled else { return false }
        if filled == outcomes.count {
            if outcomes[next] { failures -= 1 }
        } else {
            filled += 1
        }
        outcomes[next] = failure
        if failure { failures += 1 }
        next = next + 1 == outcomes.count ? 0 : next + 1
        return failure && filled >= settings.minimumCalls && failures * 100 >= settings.failureRateThreshold * filled
    }

    /// The failure rate of the window in percent (nil while it holds fewer than the minimum calls).
    public var failureRate: Int? {
        filled >= settings.minimumCalls && filled > 0 ? failures * 100 / filled : nil
    }

    /// Calls in the window and how many of them failed.
    public var window: (calls: Int, failures: Int) { (filled, failures) }

    /// Follows the shared row: its state, and while open, when probes may start. A new generation
    /// that is closed starts a fresh window (the evidence before it led to what was just undone).
    public func adopt(_ snapshot: BreakerSnapshot, at now: ContinuousClock.Instant) {
        if snapshot.generation != generation, snapshot.state == .closed { clearWindow() }
        generation = snapshot.generation
        state = snapshot.state
        shared = snapshot
        nextClaim = nil
        probeDue = snapshot.state == .open ? now + .milliseconds(snapshot.remainingOpenMilliseconds) : nil
    }

    /// Opens this copy without the pool (the shared table could not be written): this worker
    /// still stops sending calls to a database it has seen failing.
    public func openLocally(at now: ContinuousClock.Instant, reason: String) {
        state = .open
        probeDue = now + .milliseconds(settings.openMilliseconds)
        shared.state = .open
        shared.remainingOpenMilliseconds = settings.openMilliseconds
        shared.reason = reason
        clearWindow()
    }

    /// Closes this copy without the pool (a probe succeeded while the shared table was away).
    public func closeLocally() {
        state = .closed
        probeDue = nil
        shared.state = .closed
        clearWindow()
    }

    /// Notes that every probe slot is taken: no claim again before the claim interval passed.
    public func probeSlotsTaken(at now: ContinuousClock.Instant) { nextClaim = now + Self.claimInterval }

    /// New settings from a configuration change; the window restarts when its size changed.
    public func configure(_ settings: BreakerSettings) {
        let resized = settings.windowCalls != self.settings.windowCalls
        self.settings = settings
        if resized {
            outcomes = Array(repeating: false, count: settings.windowCalls)
            clearWindow()
        }
    }

    /// The shared row as this worker sees it now, `remainingOpenMilliseconds` counted from `now`.
    public func snapshot(at now: ContinuousClock.Instant) -> BreakerSnapshot {
        var copy = shared
        copy.state = state
        copy.generation = generation
        copy.remainingOpenMilliseconds = probeDue.map { now < $0 ? Self.milliseconds($0 - now) : 0 } ?? 0
        return copy
    }

    private func clearWindow() {
        for index in outcomes.indices { outcomes[index] = false }
        (next, filled, failures) = (0, 0, 0)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
