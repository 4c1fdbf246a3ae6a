import SPOJSON

/// A connection's breaker as the pool shares it (a row of `spo.circuit_breaker`, or a worker's
/// copy of one): what administration, the health answer and metrics show.
public struct BreakerSnapshot: Sendable, Equatable {
    public var connection: String
    public var state: BreakerState
    /// Bumped by every transition, so a worker can tell a new opening from the one it knows.
    public var generation: Int64
    /// While open: how long until probes may test the database (zero once they may).
    public var remainingOpenMilliseconds: Int
    /// Timestamps as PostgreSQL writes them (ISO 8601), nil before the first transition.
    public var openedAt: String?
    public var changedAt: String?
    /// Who made the last transition: `worker <pid>@<host>` or the admin key that reset it.
    public var changedBy: String?
    /// Why: the failure rate that opened it, the probe that closed it, a reset.
    public var reason: String?
    /// Probe slots held now (half-open only), pool-wide.
    public var probesInFlight: Int
    /// Successful probes of this half-open period.
    public var probesSucceeded: Int

    public init(
        connection: String, state: BreakerState = .closed, generation: Int64 = 0, remainingOpenMilliseconds: Int = 0,
        openedAt: String? = nil, changedAt: String? = nil, changedBy: String? = nil, reason: String? = nil,
        probesInFlight: Int = 0, probesSucceeded: Int = 0
    ) {
        self.connection = connection
        self.state = state
        self.generation = generation
        self.remainingOpenMilliseconds = remainingOpenMilliseconds
        self.openedAt = openedAt
        self.changedAt = changedAt
        self.changedBy = changedBy
        self.reason = reason
        self.probesInFlight = probesInFlight
        self.probesSucceeded = probesSucceeded
    }

    /// Whole seconds until probes may be made, at least 1: the `Retry-After` of a refused call.
    public var retryAfterSeconds: Int { max(1, (remainingOpenMilliseconds + 999) / 1000) }

    /// The `breaker_state` member of a connection's administration answers.
    public var document: JSONValue {
        .object([
            "state": .string(state.rawValue),
            "retry_after_s": state == .closed ? .null : .number(retryAfterSeconds),
            "opened_at": openedAt.map(JSONValue.string) ?? .null,
            "changed_at": changedAt.map(JSONValue.string) ?? .null,
            "changed_by": changedBy.map(JSONValue.string) ?? .null,
            "reason": reason.map(JSONValue.string) ?? .null,
            "probes_in_flight": .number(probesInFlight), "probes_succeeded": .number(probesSucceeded),
        ])
    }
}
