import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// The saga log in the control database (`spo.saga`, `saga_step`, `saga_compensation`,
/// `saga_event`; migration 12): every statement of it, each one round trip and one transaction.
///
/// A saga is run by one process at a time, the holder of its lease (`locked_by`,
/// `locked_until`). Every write a runner makes is fenced by the lease, so a runner that looked
/// dead and was taken over can no longer record anything; each write renews the lease for the
/// next piece of work. Each write also inserts its event, which the table's trigger copies into
/// the outbox and publishes on `NOTIFY spo_saga`.
enum SagaLog {
    /// The channel saga events are published on (by migration 12's trigger).
    static let channel = "spo_saga"

    /// What a lease covers beyond the work in hand (`SPO_SAGA_LEASE_MARGIN_MS`, default 10 s):
    /// after that long without a renewal, the saga's runner is taken for dead and recovery
    /// resumes the saga. A dead runner's supervisor ends its leases at once.
    static let leaseMargin =
        ProcessInfo.processInfo.environment["SPO_SAGA_LEASE_MARGIN_MS"].flatMap(Int.init).flatMap {
            $0 > 0 ? $0 : nil
        } ?? 10_000

    /// Who runs a saga, and for how long its lease is renewed at each write.
    struct Lease: Sendable {
        var sagaID: String
        var holder: String
    }

    private static let fence = "id = $1::uuid AND locked_by = $2"
    private static func renew(_ index: Int) -> String {
        "locked_until = clock_timestamp() + make_interval(secs => $\(index)::float8 / 1000), updated_at = now()"
    }

    // MARK: - Starting

    /// Writes the saga (`started`, leased to `lease.holder`), its parent execution (`running`;
    /// an asynchronous one's row exists already and its job is handed over to the saga) and the
    /// `saga_started` event. False when the saga exists already.
    static func begin(
        _ lease: Lease, service: ServiceDefinition, input: JSONValue, leaseMilliseconds: Int, ownerKey: String?,
        user: String, correlationID: String, idempotencyKey: String?, on connection: PGConnection
    ) throws(PGError) -> Bool {
        let result = try connection.executePrepared(
            "spo_saga_begin_v1",
            sql: """
                WITH saga AS (
                    INSERT INTO spo.saga (id, service_name, state, input, owner_key, correlation_id, locked_by,
                        locked_until, deadline)
                    VALUES ($1::uuid, $3, 'started', $4::jsonb,
                        coalesce($5, (SELECT owner_key FROM spo.execution_job WHERE execution_id = $1::uuid)), $6, $2,
                        clock_timestamp() + make_interval(secs => $7::float8 / 1000),
                        now() + make_interval(secs => $8::float8 / 1000))
                    ON CONFLICT (id) DO NOTHING RETURNING id),
                execution AS (
                    INSERT INTO spo.service_execution AS e (id, service_id, service_name, parameters, status, attempts,
                        user_name, correlation_id, idempotency_key, started_at)
                    SELECT id, $9::bigint, $3, $4::jsonb, 'running', 0, $10, $6, $11, clock_timestamp() FROM saga
                    ON CONFLICT (id) DO UPDATE SET status = 'running'),
                job AS (
                    UPDATE spo.execution_job SET state = 'done', locked_by = NULL, locked_until = NULL
                    WHERE execution_id = $1::uuid AND EXISTS (SELECT 1 FROM saga)),
                event AS (
                    INSERT INTO spo.saga_event (saga_id, event, detail)
                    SELECT id, 'saga_started', jsonb_build_object('holder', $2::text) FROM saga)
                SELECT count(*) FROM saga
                """,
            [
                lease.sagaID, lease.holder, service.name, input.serialized(), ownerKey, correlationID,
                String(leaseMilliseconds), String(service.timeoutMilliseconds), String(service.id), user,
                idempotencyKey,
            ])
        return result.value(0, 0) == "1"
    }

    // MARK: - Steps

    /// Marks step `position` running (again, after a crash) with its input, renews the lease.
    static func stepStarted(
        _ lease: Lease, position: Int, step: SagaStep, input: JSONValue, executionID: String, leaseMilliseconds: Int,
        on connection: PGConnection
    ) throws(PGError) -> Bool {
        try connection.executePrepared(
            "spo_saga_step_started_v1",
            sql: """
                WITH saga AS (UPDATE spo.saga SET \(renew(7)) WHERE \(fence) RETURNING id),
                step AS (
                    INSERT INTO spo.saga_step (saga_id, position, name, service_name, state, execution_id, input)
                    SELECT id, $3::int, $4, $5, 'running', $8::uuid, $6::jsonb FROM saga
                    ON CONFLICT (saga_id, position) DO UPDATE SET state = 'running',
                        execution_id = EXCLUDED.execution_id, input = EXCLUDED.input, xid = NULL, output = NULL,
                        error = NULL, started_at = now(), finished_at = NULL
                    RETURNING saga_id),
                event AS (
                    INSERT INTO spo.saga_event (saga_id, step, event, detail)
                    SELECT saga_id, $4, 'step_started', jsonb_build_object('position', $3::int, 'execution_id', $8::text)
                    FROM step)
                SELECT count(*) FROM step
                """,
            [
                lease.sagaID, lease.holder, String(position), step.name, step.service, input.serialized(),
                String(leaseMilliseconds), executionID,
            ]
        ).value(0, 0) == "1"
    }

    /// Records the step's target transaction and its data before COMMIT is sent there (see
    /// `TargetTransaction`). False when the lease is no longer `lease`'s: roll back.
    static func recordCommit(_ lease: Lease, position: Int, xid: String, data: String, on connection: PGConnection)
        throws(PGError) -> Bool
    {
        try connection.executePrepared(
            "spo_saga_step_record_v1",
            sql: """
                UPDATE spo.saga_step SET xid = $4::xid8, output = $5::jsonb
                WHERE saga_id = $1::uuid AND position = $3::int AND state = 'running'
                    AND EXISTS (SELECT 1 FROM spo.saga WHERE \(fence))
                """, [lease.sagaID, lease.holder, String(position), xid, data]
        ).affectedRows == 1
    }

    /// Notes that the step runs outside a transaction block (a procedure that commits itself): no
    /// transaction id can tell recovery whether it ran.
    static func markOutsideTransaction(_ lease: Lease, position: Int, on connection: PGConnection) throws(PGError)
        -> Bool
    {
        try connection.executePrepared(
            "spo_saga_step_outside_v1",
            sql: """
                UPDATE spo.saga_step SET error = '{"outside_transaction": true}'
                WHERE saga_id = $1::uuid AND position = $3::int AND state = 'running'
                    AND EXISTS (SELECT 1 FROM spo.saga WHERE \(fence))
                """, [lease.sagaID, lease.holder, String(position)]
        ).affectedRows == 1
    }

    /// The step's end: `done` with its data (the saga `step_done`, the data in its context) or
    /// `failed` with its error (the saga's error names it); its execution row with them.
    static func stepFinished(
        _ lease: Lease, position: Int, step: String, data: String?, error: JSONValue?, audit: SagaMemberAudit,
        on connection: PGConnection
    ) throws(PGError) -> Bool {
        let done = error == nil
        let sql = """
            WITH saga AS (SELECT id FROM spo.saga WHERE \(fence) FOR UPDATE),
            step AS (
                UPDATE spo.saga_step SET state = $4, output = $5::jsonb, error = $6::jsonb,
                    finished_at = clock_timestamp()
                WHERE saga_id = $1::uuid AND position = $3::int AND state = 'running' AND EXISTS (SELECT 1 FROM saga)
                RETURNING saga_id),
            progress AS (
                UPDATE spo.saga SET last_step = $7, updated_at = now(),
                    state = CASE WHEN $4 = 'done' THEN 'step_done' ELSE state END,
                    context = CASE WHEN $4 = 'done'
                        THEN jsonb_set(context, ARRAY['steps', $7], jsonb_build_object('data', $5::jsonb))
                        ELSE context END,
                    error = CASE WHEN $4 = 'done' THEN error ELSE $6::jsonb || jsonb_build_object('step', $7::text) END
                FROM step WHERE id = step.saga_id RETURNING id),
            event AS (
                INSERT INTO spo.saga_event (saga_id, step, event, detail)
                SELECT id, $7, CASE WHEN $4 = 'done' THEN 'step_done' ELSE 'step_failed' END, $6::jsonb FROM progress),
            \(SagaMemberAudit.cte(from: 8, when: "progress"))
            SELECT count(*) FROM progress
            """
        return try connection.executePrepared(
            "spo_saga_step_finished_v1", sql: sql,
            [
                lease.sagaID, lease.holder, String(position), done ? "done" : "failed", data ?? (done ? "null" : nil),
                error?.serialized(), step,
            ] + audit.values
        ).value(0, 0) == "1"
    }

    /// A step found `running` by recovery whose transaction committed: settled as done from the
    /// data recorded with its transaction id (its execution row says so).
    static func stepSettledFromRecord(
        _ lease: Lease, position: Int, step: String, audit: SagaMemberAudit, on connection: PGConnection
    ) throws(PGError) -> Bool {
        let data = try connection.execute(
            "SELECT output::text FROM spo.saga_step WHERE saga_id = $1::uuid AND position = $2::int",
            [lease.sagaID, String(position)]
        ).value(0, 0)
        return try stepFinished(
            lease, position: position, step: step, data: data ?? "null", error: nil, audit: audit, on: connection)
    }

    // MARK: - Compensations

    /// Marks the compensation of step `position` running, one attempt more; renews the lease.
    static func compensationStarted(
        _ lease: Lease, position: Int, step: String, service: String, input: JSONValue, executionID: String,
        leaseMilliseconds: Int, on connection: PGConnection
    ) throws(PGError) -> Bool {
        try connection.executePrepared(
            "spo_saga_compensation_started_v1",
            sql: """
                WITH saga AS (UPDATE spo.saga SET \(renew(7)) WHERE \(fence) RETURNING id),
                compensation AS (
                    INSERT INTO spo.saga_compensation (saga_id, position, service_name, state, attempts, execution_id,
                        input)
                    SELECT id, $3::int, $5, 'running', 1, $8::uuid, $6::jsonb FROM saga
                    ON CONFLICT (saga_id, position) DO UPDATE SET state = 'running',
                        attempts = saga_compensation.attempts + 1, execution_id = EXCLUDED.execution_id,
                        input = EXCLUDED.input, error = NULL, finished_at = NULL
                    RETURNING saga_id, attempts),
                event AS (
                    INSERT INTO spo.saga_event (saga_id, step, event, detail)
                    SELECT saga_id, $4, 'compensation_started',
                        jsonb_build_object('attempt', attempts, 'execution_id', $8::text)
                    FROM compensation)
                SELECT count(*) FROM compensation
                """,
            [
                lease.sagaID, lease.holder, String(position), step, service, input.serialized(),
                String(leaseMilliseconds), executionID,
            ]
        ).value(0, 0) == "1"
    }

    /// The end of one compensation attempt: `done`, or `failed` with its error; `final` says
    /// whether a failure is the last attempt (the event `compensation_failed` then).
    static func compensationFinished(
        _ lease: Lease, position: Int, step: String, error: JSONValue?, final: Bool, audit: SagaMemberAudit,
        on connection: PGConnection
    ) throws(PGError) -> Bool {
        let event: SagaEvent? = error == nil ? .compensationDone : (final ? .compensationFailed : nil)
        let sql = """
            WITH saga AS (SELECT id FROM spo.saga WHERE \(fence) FOR UPDATE),
            compensation AS (
                UPDATE spo.saga_compensation SET state = $4, error = $5::jsonb, finished_at = clock_timestamp()
                WHERE saga_id = $1::uuid AND position = $3::int AND state = 'running' AND EXISTS (SELECT 1 FROM saga)
                RETURNING saga_id, attempts),
            event AS (
                INSERT INTO spo.saga_event (saga_id, step, event, detail)
                SELECT saga_id, $6, $7, coalesce($5::jsonb, '{}') || jsonb_build_object('attempts', attempts)
                FROM compensation WHERE $7::text IS NOT NULL),
            \(SagaMemberAudit.cte(from: 8, when: "compensation"))
            SELECT count(*) FROM compensation
            """
        return try connection.executePrepared(
            "spo_saga_compensation_finished_v1", sql: sql,
            [
                lease.sagaID, lease.holder, String(position), error == nil ? "done" : "failed", error?.serialized(),
                step, event?.rawValue,
            ] + audit.values
        ).value(0, 0) == "1"
    }

    // MARK: - Saga states

    /// Moves an in-flight saga to `state` (`compensating`) with its event.
    static func transition(
        _ lease: Lease, to state: SagaState, event: SagaEvent, detail: JSONValue? = nil, error: JSONValue? = nil,
        on connection: PGConnection
    ) throws(PGError) -> Bool {
        try connection.executePrepared(
            "spo_saga_transition_v1",
            sql: """
                WITH saga AS (
                    UPDATE spo.saga SET state = $3, error = coalesce($6::jsonb, error), updated_at = now()
                    WHERE \(fence) RETURNING id),
                event AS (INSERT INTO spo.saga_event (saga_id, event, detail) SELECT id, $4, $5::jsonb FROM saga)
                SELECT count(*) FROM saga
                """,
            [lease.sagaID, lease.holder, state.rawValue, event.rawValue, detail?.serialized(), error?.serialized()]
        ).value(0, 0) == "1"
    }

    /// Ends the saga in `outcome`'s state: releases the lease, settles its parent execution (and
    /// error row, and an asynchronous job's result) in the same transaction. A parent already
    /// settled (the end of a manual retry) is left as it is: finished audit rows never change.
    static func finish(_ lease: Lease, _ outcome: SagaOutcome, on connection: PGConnection) throws(PGError) -> Bool {
        let error = outcome.error
        let reference = outcome.reference
        let event: SagaEvent =
            switch outcome.state {
            case .completed: .sagaCompleted
            case .compensated: .sagaCompensated
            case .compensationFailed: .sagaCompensationFailed
            default: .sagaFailed
            }
        let sql = """
            WITH saga AS (
                UPDATE spo.saga SET state = $3, updated_at = now(), finished_at = clock_timestamp(), locked_by = NULL,
                    locked_until = NULL
                WHERE \(fence) RETURNING id, started_at),
            event AS (
                INSERT INTO spo.saga_event (saga_id, step, event, detail)
                SELECT id, NULL::text, $4, CASE WHEN $5::text IS NULL THEN NULL ELSE $6::jsonb END FROM saga),
            execution AS (
                UPDATE spo.service_execution e SET status = $7, http_status = $8::int, error_code = $9,
                    attempts = 1, duration_ms = extract(epoch FROM clock_timestamp() - saga.started_at) * 1000,
                    finished_at = clock_timestamp()
                FROM saga WHERE e.id = saga.id AND e.status IN ('queued', 'running')
                RETURNING e.id, e.service_name, e.correlation_id),
            job AS (
                UPDATE spo.execution_job j SET result = $10::json, finished_at = clock_timestamp()
                FROM saga WHERE j.execution_id = saga.id),
            failure AS (
                INSERT INTO spo.service_error (reference, execution_id, service_name, code, http_status, sqlstate,
                    message, detail, created_at, correlation_id)
                SELECT $11::uuid, id, service_name, $9, $8::int, $12, $13, $14::jsonb, clock_timestamp(),
                    correlation_id
                FROM execution WHERE $11::uuid IS NOT NULL)
            SELECT count(*) FROM saga
            """
        let detail: JSONValue? = outcome.failedStep.map { .object(["failed_step": .string($0)]) }
        return try connection.executePrepared(
            "spo_saga_finish_v2", sql: sql,
            [
                lease.sagaID, lease.holder, outcome.state.rawValue, event.rawValue, outcome.failedStep,
                detail?.serialized(), ExecutionStatus(answering: error).rawValue, String(error?.status ?? 200),
                error?.code.rawValue, outcome.data.serialized(), reference, error?.sqlstate, error?.message,
                error.map { JSONValue.array($0.details(for: .administrator)).serialized() },
            ]
        ).value(0, 0) == "1"
    }

    // MARK: - Recovery and the manual retry

    /// Takes over one in-flight saga whose lease expired (or was ended: its process died), with
    /// the event `saga_recovered`. Nil when there is none.
    static func takeOrphan(by holder: String, leaseMilliseconds: Int, on connection: PGConnection) throws(PGError)
        -> String?
    {
        let result = try connection.executePrepared(
            "spo_saga_orphan_v1",
            sql: """
                WITH next AS (
                    SELECT id, locked_by FROM spo.saga
                    WHERE state IN ('started', 'step_done', 'compensating') AND locked_until < now()
                    ORDER BY locked_until LIMIT 1 FOR UPDATE SKIP LOCKED),
                taken AS (
                    UPDATE spo.saga s SET locked_by = $1,
                        locked_until = clock_timestamp() + make_interval(secs => $2::float8 / 1000), updated_at = now()
                    FROM next WHERE s.id = next.id RETURNING s.id, next.locked_by AS previous),
                event AS (
                    INSERT INTO spo.saga_event (saga_id, event, detail)
                    SELECT id, 'saga_recovered', jsonb_build_object('holder', $1::text, 'previous', previous) FROM taken)
                SELECT id FROM taken
                """, [holder, String(leaseMilliseconds)])
        return result.rowCount > 0 ? result.value(0, 0) : nil
    }

    /// Takes a `compensation_failed` saga back to `compensating` for the manual retry, leased to
    /// `holder`, with the event `compensation_retried`. False for a saga in any other state. Its
    /// parent execution stays as audited (history is append-only, migration 13): the retry's
    /// compensation rows and the saga log tell what happened after.
    static func retryCompensation(_ sagaID: String, by holder: String, user: String, on connection: PGConnection)
        throws(PGError) -> Bool
    {
        try connection.executePrepared(
            "spo_saga_retry_v2",
            sql: """
                WITH saga AS (
                    UPDATE spo.saga SET state = 'compensating', finished_at = NULL, locked_by = $2,
                        locked_until = clock_timestamp() + make_interval(secs => $4::float8 / 1000), updated_at = now()
                    WHERE id = $1::uuid AND state = 'compensation_failed' RETURNING id),
                event AS (
                    INSERT INTO spo.saga_event (saga_id, event, detail)
                    SELECT id, 'compensation_retried', jsonb_build_object('user', $3::text) FROM saga)
                SELECT count(*) FROM saga
                """, [sagaID, holder, user, String(leaseMargin)]
        ).value(0, 0) == "1"
    }

    /// Ends the saga leases of a process known to be dead (its supervisor saw it exit), so
    /// recovery need not wait for them to expire; wakes the consumers. Returns how many.
    @discardableResult
    static func expireLeases(of holder: String, on connection: PGConnection) throws(PGError) -> Int {
        let result = try connection.execute(
            """
            WITH expired AS (
                UPDATE spo.saga SET locked_until = now() - interval '1 millisecond'
                WHERE state IN ('started', 'step_done', 'compensating') AND locked_by = $1 RETURNING 1)
            SELECT count(*) FROM expired
            """, [holder])
        let count = Int(result.value(0, 0) ?? "") ?? 0
        if count > 0 { try connection.execute("NOTIFY \(JobQueue.channel)") }
        return count
    }

    /// Seconds until the next in-flight saga's lease expires (nil: none in flight).
    static func secondsUntilLeaseExpiry(on connection: PGConnection) throws(PGError) -> Double? {
        try connection.executePrepared(
            "spo_saga_due_v1",
            sql: """
                SELECT extract(epoch FROM min(locked_until) - clock_timestamp()) FROM spo.saga
                WHERE state IN ('started', 'step_done', 'compensating')
                """, []
        ).value(0, 0).flatMap(Double.init)
    }

    /// The saga as its runner resumes it.
    static func load(_ sagaID: String, on connection: PGConnection) throws(PGError) -> SagaRecord? {
        let result = try connection.execute(
            """
            SELECT s.service_name, s.state, s.input::text, s.context::text, s.error::text,
                extract(epoch FROM s.deadline - clock_timestamp()) * 1000, s.owner_key,
                coalesce((SELECT json_agg(json_build_object('position', st.position, 'name', st.name,
                    'state', st.state, 'xid', st.xid::text, 'output', st.output, 'error', st.error,
                    'compensation', (SELECT c.state FROM spo.saga_compensation c
                        WHERE c.saga_id = st.saga_id AND c.position = st.position)) ORDER BY st.position)
                    FROM spo.saga_step st WHERE st.saga_id = s.id), '[]')::text,
                e.user_name, e.correlation_id,
                (SELECT x.reference FROM spo.service_error x WHERE x.execution_id = s.id
                    ORDER BY x.created_at DESC LIMIT 1)
            FROM spo.saga s LEFT JOIN spo.service_execution e ON e.id = s.id
            WHERE s.id = $1::uuid
            """, [sagaID])
        guard result.rowCount > 0, let state = SagaState(rawValue: result.value(0, 1) ?? "") else { return nil }
        func json(_ column: Int) -> JSONValue { (try? JSONValue.parse(result.value(0, column) ?? "null")) ?? .null }
        let steps = (json(7).arrayValue ?? []).map { item in
            SagaRecord.Step(
                position: item["position"]?.intValue ?? 0, name: item["name"]?.stringValue ?? "",
                state: item["state"]?.stringValue ?? "", xid: item["xid"]?.stringValue,
                output: item["output"] ?? .null, error: item["error"],
                compensation: item["compensation"]?.stringValue)
        }
        return SagaRecord(
            id: sagaID, serviceName: result.value(0, 0) ?? "", state: state, input: json(2), context: json(3),
            error: result.value(0, 4) == nil ? nil : json(4),
            remainingMilliseconds: Double(result.value(0, 5) ?? "") ?? 0, ownerKey: result.value(0, 6),
            steps: steps, user: result.value(0, 8) ?? "anonymous", correlationID: result.value(0, 9) ?? "",
            reference: result.value(0, 10))
    }
}
