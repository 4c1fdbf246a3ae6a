/// How an execution ended (or that it is still running): `service_execution.status`, the `status`
/// filter of `GET /api/executions` and the OpenAPI `ExecutionStatus` schema.
public enum ExecutionStatus: String, Sendable, CaseIterable {
    /// Accepted with `Prefer: respond-async`, waiting in the job queue for a consumer.
    case queued
    case running
    case succeeded
    /// The procedure raised, or its database could not be reached.
    case failed
    /// The service's `timeout_ms` passed; the statement was cancelled.
    case timeout
    /// The input was refused before anything ran.
    case rejected
    /// The worker died mid-execution; the supervisor audited it from the journal.
    case interrupted
    /// Refused at once: the connection's circuit breaker was open, nothing was sent.
    case circuitOpen = "circuit_open"

    /// What a re-run may follow without `"force": true`: the call did not (or may not have) done
    /// its work.
    public var isReprocessable: Bool {
        self == .failed || self == .timeout || self == .interrupted || self == .circuitOpen
    }

    /// The status of an execution that answered `error` (nil: it succeeded).
    public init(answering error: APIError?) {
        switch error?.code {
        case nil: self = .succeeded
        case .timeout?: self = .timeout
        case .invalidParameters?, .unsupportedMediaType?, .idempotencyKeyInvalid?: self = .rejected
        case .circuitOpen?: self = .circuitOpen
        default: self = .failed
        }
    }
}
