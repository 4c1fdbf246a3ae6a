/// Where a saga stands (`spo.saga.state`, the states of seed 003).
public enum SagaState: String, Sendable, CaseIterable {
    case started
    /// `last_step` finished; the next one has not.
    case stepDone = "step_done"
    case completed
    /// A step failed and nothing before it needed undoing.
    case failed
    case compensating
    case compensated
    /// A compensation kept failing under the retry policy: it needs a human (and the manual retry).
    case compensationFailed = "compensation_failed"

    /// Still moving: a process runs it, or recovery will.
    public var isInFlight: Bool { self == .started || self == .stepDone || self == .compensating }
}
