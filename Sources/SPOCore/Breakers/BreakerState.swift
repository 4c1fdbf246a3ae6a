/// Where a connection's circuit breaker stands: `spo.circuit_breaker.state`.
public enum BreakerState: String, Sendable, CaseIterable {
    /// Calls go through; infrastructure failures are counted.
    case closed
    /// Calls are refused at once (`CIRCUIT_OPEN`) until the open duration has passed.
    case open
    /// A limited number of probe calls test the database; the others are refused.
    case halfOpen = "half_open"
}
