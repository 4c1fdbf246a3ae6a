/// What a saga's timeline records (`spo.saga_event.event`); each one is also published on
/// `NOTIFY spo_saga` and in the outbox.
public enum SagaEvent: String, Sendable, CaseIterable {
    case sagaStarted = "saga_started"
    case stepStarted = "step_started"
    case stepDone = "step_done"
    case stepFailed = "step_failed"
    case compensationStarted = "compensation_started"
    case compensationDone = "compensation_done"
    case compensationFailed = "compensation_failed"
    case sagaCompleted = "saga_completed"
    case sagaFailed = "saga_failed"
    case sagaCompensating = "saga_compensating"
    case sagaCompensated = "saga_compensated"
    case sagaCompensationFailed = "saga_compensation_failed"
    case compensationRetried = "compensation_retried"
    case sagaRecovered = "saga_recovered"
}
