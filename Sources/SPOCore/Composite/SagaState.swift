/// Where a saga stands, as `spo.saga.state` records it (migration 12). The terminal states are
/// `completed`, `compensated` and `compensation_failed` (which waits for a human: a manual retry
/// of the compensations); `failed` is a step that failed with nothing to compensate.
public enum SagaState: String, Sendable, CaseIterable {
    case started
    case stepDone = "step_done"
    case completed
    case failed
    case compensating
    case compensated
    case compensationFailed = "compensation_failed"
}
