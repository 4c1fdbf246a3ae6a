import SPOCore
import SPOPostgres

/// The right to re-run one execution, taken before the run: a `service_reprocessing` row written
/// in a transaction that holds an advisory lock on the original execution's id, after checking —
/// under that lock, so with everything committed before it in view — that the re-run is allowed.
/// Two requests for one execution thus meet at the lock: the second sees the first's claim and is
/// refused, however close together they came. The claim is the reprocessing's history row; it
/// counts as running until the new execution's audit row exists (or `claimed_until` passed).
enum ReprocessingClaim {
    /// The refusal of a re-run whose recorded parameters lack sensitive values (they are never
    /// recorded): the request must send them in `parameters`.
    static func sensitiveMissing(_ names: [String]) -> APIError {
        .invalidParameters(
            names.map {
                ParameterProblem(
                    parameter: $0,
                    problem: "is sensitive and was not recorded; send the parameters again in \"parameters\"")
            })
    }

    /// Why a re-run is refused; each case says what the client sees.
    enum Refusal: Error, Equatable {
        case notFound
        /// Not failed, timed out or interrupted, and not forced.
        case status(String)
        /// Another re-run of it has started and not finished.
        case running(newExecution: String)
        /// Re-run before (by `newExecution`), and not forced.
        case reprocessed(newExecution: String)

        func error(for id: String) -> APIError {
            switch self {
            case .notFound:
                APIError(.notFound, "no execution \(id)")
            case .status(let status):
                APIError(
                    .conflict,
                    "execution \(id) is \(status); only failed, timeout or interrupted executions are reprocessed"
                        + " — send \"force\": true to run it again anyway")
            case .running(let new):
                APIError(.conflict, "execution \(id) is being reprocessed right now (as \(new)); wait for that run")
            case .reprocessed(let new):
                APIError(
                    .conflict,
                    "execution \(id) was reprocessed already (as \(new)); reprocess that one,"
                        + " or send \"force\": true to run this one again")
            }
        }
    }

    /// Whether a re-run may start, given what the audit holds now.
    static func refusal(status: String?, running: String?, previous: String?, force: Bool) -> Refusal? {
        guard let status else { return .notFound }
        if let running { return .running(newExecution: running) }
        if force { return nil }
        if ExecutionStatus(rawValue: status)?.isReprocessable != true { return .status(status) }
        if let previous { return .reprocessed(newExecution: previous) }
        return nil
    }

    /// Claims the re-run of `original` as execution `new`, or throws why not (nothing is written then).
    static func take(
        original: String, new: String, by user: String, reason: String, force: Bool, timeoutMilliseconds: Int,
        on control: ControlDatabase
    ) throws(APIError) {
        let refusal: Refusal?
        do throws(PGError) {
            refusal = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute("BEGIN")
                do throws(PGError) {
                    let found = try claim(original, new, user, reason, force, timeoutMilliseconds, on: connection)
                    try connection.execute(found == nil ? "COMMIT" : "ROLLBACK")
                    return found
                } catch {
                    _ = try? connection.execute("ROLLBACK")
                    throw error
                }
            }
        } catch {
            throw APIError(
                .dbConnectionFailed, "the control database did not answer: \(DatabaseFailureText.forClients(error))")
        }
        if let refusal { throw refusal.error(for: original) }
    }

    private static func claim(
        _ original: String, _ new: String, _ user: String, _ reason: String, _ force: Bool,
        _ timeoutMilliseconds: Int, on connection: PGConnection
    ) throws(PGError) -> Refusal? {
        let deadline = ContinuousClock.now + .seconds(10)
        try connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext('spo.reprocess'), hashtext($1::uuid::text))", [original],
            deadline: deadline)
        // A statement of its own, after the lock: its snapshot holds every claim committed before.
        let state = try connection.execute(
            """
            SELECT e.status,
                (SELECT r.new_execution_id::text FROM spo.service_reprocessing r
                 WHERE r.original_execution_id = e.id AND r.claimed_until > now()
                   AND NOT EXISTS (SELECT 1 FROM spo.service_execution n WHERE n.id = r.new_execution_id)
                 ORDER BY r.id DESC LIMIT 1),
                (SELECT r.new_execution_id::text FROM spo.service_reprocessing r
                 WHERE r.original_execution_id = e.id ORDER BY r.id DESC LIMIT 1)
            FROM spo.service_execution e WHERE e.id = $1::uuid
            """, [original], deadline: deadline)
        let row = state.rowCount > 0
        if let refusal = refusal(
            status: row ? state.value(0, 0) : nil, running: row ? state.value(0, 1) : nil,
            previous: row ? state.value(0, 2) : nil, force: force)
        {
            return refusal
        }
        try connection.execute(
            """
            INSERT INTO spo.service_reprocessing
                (original_execution_id, new_execution_id, requested_by, reason, forced, claimed_until)
            VALUES ($1::uuid, $2::uuid, $3, $4, $5, now() + make_interval(secs => $6::float8 / 1000 + 60))
            """, [original, new, user, reason, force ? "true" : "false", String(timeoutMilliseconds)],
            deadline: deadline)
        return nil
    }
}
