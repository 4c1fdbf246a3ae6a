import SPOCore
import SPOJSON
import SPOPostgres

/// What a request with an `Idempotency-Key` is told when it does not simply run, and which
/// answers are kept for the key's repeats.
enum IdempotencyAnswers {
    /// `Retry-After` of a key in use: the first request usually answers within a second.
    static let retryAfterSeconds = 1

    static let malformed = APIError(
        .idempotencyKeyInvalid,
        "the Idempotency-Key header must be 1 to \(ClientToken.maxLength) letters, digits, -, _, . or : "
            + "(a UUID will do); nothing was run")

    static func missing(_ service: String) -> APIError {
        APIError(
            .idempotencyKeyInvalid,
            "service \(service) requires an Idempotency-Key header "
                + "(1 to \(ClientToken.maxLength) letters, digits, -, _, . or :, such as a UUID), "
                + "so that a repeated request cannot run it twice; nothing was run")
    }

    static func mismatch(_ key: String, original: String, _ service: String) -> APIError {
        let call = original == service ? "other parameters" : "service \(original)"
        return APIError(
            .idempotencyKeyMismatch,
            "the Idempotency-Key \(key) was used with \(call); a key names one call — send a new key for another;"
                + " nothing was run")
    }

    static func inUse(_ key: String, _ executionID: String) -> APIError {
        APIError(
            .idempotencyKeyInUse,
            "the first request with Idempotency-Key \(key) (execution \(executionID)) is still running; repeat the "
                + "request after Retry-After to get its answer; nothing was run",
            details: [.object(["execution_id": .string(executionID)])])
    }

    /// A claim whose worker died and whose lock passed, for a service not safe to repeat: the
    /// routine may have run (even committed) before the worker died, so it is not run again under
    /// this key — the same rule as a connection lost after the call was sent.
    static func abandoned(_ key: String, _ executionID: String, _ service: String) -> APIError {
        APIError(
            .internalError,
            "the first request with Idempotency-Key \(key) (execution \(executionID)) was interrupted before it "
                + "answered and may have run; service \(service) is not safe to repeat, so it is not run again under "
                + "this key: look it up with GET /api/executions/\(executionID), and send a new key to run it again",
            details: [.object(["execution_id": .string(executionID)])])
    }

    static func unavailable(_ error: PGError) -> APIError {
        APIError(
            .dbConnectionFailed,
            "the control database did not answer, so the Idempotency-Key cannot be checked; nothing was run — try "
                + "again later",
            details: DatabaseFailureText.details(error))
    }

    /// Whether the answer of `outcome` is kept for the key's repeats: what an execution that may
    /// have reached the routine answered — success, the routine's error, a timeout, a connection
    /// lost after the call was sent. Not kept (the key is released, so the same request may be
    /// tried again) when nothing ran: no execution at all (refused before the run), or every
    /// attempt failed before the call was sent (the database unreachable).
    static func keeps(_ outcome: ExecutionOutcome?) -> Bool {
        guard let outcome, !outcome.attempts.isEmpty else { return false }
        guard case .failure(let error) = outcome.result else { return true }
        switch error.kind {
        case .server, .resultTooLarge: return true
        case .connection: return error.mayHaveRun
        // Timing out while connecting (08001) sent nothing; a statement's timeout may have run it.
        case .timeout: return error.sqlstate != "08001"
        }
    }
}
