import SPOCore

/// A call refused because its connection's breaker is open (or half-open with every probe slot
/// taken): nothing was sent to the database.
public struct CircuitOpen: Error, Sendable {
    public var connection: String
    public var state: BreakerState
    /// Whole seconds until probes may be made: the `Retry-After` of the answer.
    public var retryAfterSeconds: Int

    /// The answer: 503 `CIRCUIT_OPEN`.
    public func error(service: String) -> APIError {
        APIError(
            .circuitOpen,
            "the circuit breaker of connection \(connection) is \(state == .open ? "open" : "half-open"); service "
                + "\(service) was not run. Try again in \(retryAfterSeconds) s",
            details: [
                .object([
                    "connection": .string(connection), "state": .string(state.rawValue),
                    "retry_after_s": .number(retryAfterSeconds),
                ])
            ])
    }
}
