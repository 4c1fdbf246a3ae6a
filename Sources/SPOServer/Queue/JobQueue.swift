import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// The job queue of asynchronous executions in the control database (`spo.execution_job`,
/// migration 9): every statement of it, each one round trip.
///
/// A job's lease is held by one consumer at a time and names it (`locked_by`) with the claim's
/// number (`attempts`): every write a consumer makes for a job is fenced by both, so a consumer
/// whose lease was taken over (it looked dead) can no longer record, commit or settle anything.
public enum JobQueue {
    /// The channel queued jobs notify; consumers LISTEN on it.
    public static let channel = "spo_queue"

    /// How often a job is claimed before recovery stops re-running it: a job whose consumer dies
    /// every time (say, it crashes the process) ends `interrupted` instead of cycling for ever.
    public static let maxClaims = 5

    /// A job as its current holder knows it.
    public struct Lease: Sendable, Equatable {
        public var executionID: String
        public var serviceName: String
        /// The consumer holding it (`locked_by`).
        public var holder: String
        /// The claim's number (`attempts`).
        public var claim: Int
    }

    /// A claimed job, ready to run.
    public struct Job: Sendable {
        public var lease: Lease
        public var parameters: JSONValue
        public var user: String
        public var correlationID: String?
    }

    /// A job whose lease expired, taken over by a consumer to settle or requeue it.
    public struct Orphan: Sendable {
        public var lease: Lease
        /// The target transaction recorded before its COMMIT, if the run got that far.
        public var xid: String?
        /// The data recorded with `xid`.
        public var result: String?
        public var outsideTransaction: Bool
    }

    // MARK: - Enqueue (the request path)

    static let enqueueSQL = """
        WITH execution AS (
            INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, attempts, user_name,
                correlation_id, idempotency_key, started_at)
            VALUES ($1::uuid, $2::bigint, $3, $4::jsonb, 'queued', 0, $5, $6, $7, clock_timestamp())
            RETURNING id, parameters)
        INSERT INTO spo.execution_job (execution_id, service_name, parameters, lease_ms, owner_key)
        SELECT id, $3, parameters, $8::int, $9 FROM execution
        """

    /// Writes the `queued` execution row and its job in one statement; the insert wakes the
    /// consumers (`NOTIFY spo_queue`, sent at commit).
    static func enqueue(
        executionID: String, service: ServiceDefinition, parameters: JSONValue, user: String,
        correlationID: String, idempotencyKey: String?, ownerKey: String?, on connection: PGConnection
    ) throws(PGError) {
        try connection.executePrepared(
            "spo_job_enqueue_v1", sql: enqueueSQL,
            [
                executionID, String(service.id), service.name, parameters.serialized(), user, correlationID,
                idempotencyKey, String(leaseMilliseconds(for: service)), ownerKey,
            ])
    }

    /// The lease a claim of `service`'s job takes: the longest the executor can take (the
    /// service's timeout) plus `SPO_QUEUE_LEASE_MARGIN_MS` (default 30 s) for recording and
    /// settling. A consumer that dies is noticed at once by its supervisor; the lease is what
    /// returns the job when the supervisor died too.
    static func leaseMilliseconds(for service: ServiceDefinition) -> Int {
        service.timeoutMilliseconds + leaseMargin
    }

    static let leaseMargin =
        ProcessInfo.processInfo.environment["SPO_QUEUE_LEASE_MARGIN_MS"].flatMap(Int.init).flatMap {
            $0 > 0 ? $0 : nil
        } ?? 30_000

    // MARK: - Claiming and running

    /// The claim commits without waiting for its WAL flush (`synchronous_commit` off for its own
    /// transaction only): losing it in a crash of the control database only returns the job to
    /// the queue, and whatever depends on it — the transaction id recorded before the target's
    /// COMMIT, the settlement — is a durable commit later in the same WAL, which flushes the claim
    /// with it. One flush fewer per job.
    static let claimSQL = """
        WITH quiet AS (SELECT pg_catalog.set_config('synchronous_commit', 'off', true)),
        next AS (
            SELECT execution_id FROM spo.execution_job
            WHERE state = 'queued' AND run_after <= now()
            ORDER BY run_after, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE spo.execution_job j SET state = 'running', attempts = j.attempts + 1, locked_by = $1,
                locked_until = clock_timestamp() + make_interval(secs => j.lease_ms / 1000.0), xid = NULL,
                result = NULL, outside_transaction = false
            FROM next WHERE j.execution_id = next.execution_id
            RETURNING j.execution_id, j.service_name, j.parameters, j.attempts),
        running AS (
            UPDATE spo.service_execution e SET status = 'running' FROM claimed WHERE e.id = claimed.execution_id)
        SELECT c.execution_id, c.service_name, c.parameters::text, c.attempts, e.user_name, e.correlation_id
        FROM claimed c JOIN spo.service_execution e ON e.id = c.execution_id CROSS JOIN quiet
        """

    /// Takes the next due job, skipping those other consumers are taking right now, and marks
    /// its execution `running`; nil when none is due.
    static func claim(by holder: String, on connection: PGConnection) throws(PGError) -> Job? {
        let result = try connection.executePrepared("spo_job_claim_v2", sql: claimSQL, [holder])
        guard result.rowCount > 0, let id = result.value(0, 0), let service = result.value(0, 1) else { return nil }
        let parameters = (try? JSONValue.parse(Array((result.value(0, 2) ?? "{}").utf8))) ?? .object([])
        return Job(
            lease: Lease(
                executionID: id, serviceName: service, holder: holder, claim: Int(result.value(0, 3) ?? "") ?? 0),
            parameters: parameters, user: result.value(0, 4) ?? "anonymous", correlationID: result.value(0, 5))
    }

    static let fence = "execution_id = $1::uuid AND locked_by = $2 AND attempts = $3::int AND state = 'running'"

    /// Records the target transaction and the data before COMMIT is sent there. False when the
    /// lease is no longer `lease`'s: the caller must then roll back.
    static func recordCommit(_ lease: Lease, xid: String, data: String, on connection: PGConnection)
        throws(PGError) -> Bool
    {
        try connection.executePrepared(
            "spo_job_record_v1",
            sql: "UPDATE spo.execution_job SET xid = $4::xid8, result = $5::json WHERE \(fence)",
            fenced(lease) + [xid, data]
        ).affectedRows == 1
    }

    /// Notes that the call runs outside a transaction block (no xid can tell whether it ran).
    static func markOutsideTransaction(_ lease: Lease, on connection: PGConnection) throws(PGError) -> Bool {
        try connection.executePrepared(
            "spo_job_outside_v1", sql: "UPDATE spo.execution_job SET outside_transaction = true WHERE \(fence)",
            fenced(lease)
        ).affectedRows == 1
    }

    static let settleSQL = """
        WITH job AS (
            UPDATE spo.execution_job SET state = 'done', locked_by = NULL, locked_until = NULL, result = $10::json,
                finished_at = clock_timestamp()
            WHERE \(fence) RETURNING execution_id),
        execution AS (
            UPDATE spo.service_execution e SET status = $4::text, http_status = $5::int, error_code = $6::text, attempts = $7::int,
                duration_ms = $8::float8, attempt_log = $9::jsonb, finished_at = clock_timestamp()
            FROM job WHERE e.id = job.execution_id AND e.id = $1::uuid RETURNING e.id, e.service_name),
        failure AS (
            INSERT INTO spo.service_error (reference, execution_id, service_name, code, http_status, sqlstate,
                message, detail, created_at)
            SELECT $11::uuid, id, service_name, $6::text, $5::int, $12::text, $13::text, $14::jsonb, clock_timestamp()
            FROM execution WHERE $11::uuid IS NOT NULL)
        SELECT count(*) FROM execution
        """

    /// Ends the job and its execution as `record` says, the error row with them, in one statement
    /// (one transaction); `data` is kept for `GET /api/executions/{id}`. False when the lease is
    /// no longer `lease`'s (the new holder settles it).
    static func settle(_ lease: Lease, _ record: AuditRecord, data: String?, on connection: PGConnection)
        throws(PGError) -> Bool
    {
        guard let execution = record.execution else { return false }
        let failure = record.failure
        let values: [String?] = [
            execution.status.rawValue, String(execution.httpStatus), execution.errorCode,
            String(execution.attempts.count), String(execution.durationMilliseconds),
            AuditLog.attemptsJSON(execution.attempts, workerPID: String(getpid())), data, failure?.reference,
            failure?.error.sqlstate, failure?.error.message,
            failure.map { JSONValue.array($0.error.details(for: .administrator)).serialized() },
        ]
        let result = try connection.executePrepared("spo_job_settle_v2", sql: settleSQL, fenced(lease) + values)
        return result.value(0, 0) == "1"
    }

    /// Puts the job back in the queue, due after `delay`, its execution `queued` again.
    static func requeue(_ lease: Lease, after delay: Duration = .zero, on connection: PGConnection) throws(PGError) {
        try connection.executePrepared(
            "spo_job_requeue_v2",
            sql: """
                WITH job AS (
                    UPDATE spo.execution_job SET state = 'queued', locked_by = NULL, locked_until = NULL, xid = NULL,
                        result = NULL, outside_transaction = false,
                        run_after = clock_timestamp() + make_interval(secs => $4::float8 / 1000)
                    WHERE \(fence) RETURNING execution_id)
                UPDATE spo.service_execution e SET status = 'queued' FROM job
                WHERE e.id = job.execution_id AND e.id = $1::uuid
                """, fenced(lease) + [String(milliseconds(delay))])
    }

    private static func fenced(_ lease: Lease) -> [String?] {
        [lease.executionID, lease.holder, String(lease.claim)]
    }

    // MARK: - Recovery

    static let takeOrphanSQL = """
        WITH next AS (
            SELECT execution_id FROM spo.execution_job
            WHERE state = 'running' AND locked_until < now()
            ORDER BY locked_until LIMIT 1 FOR UPDATE SKIP LOCKED)
        UPDATE spo.execution_job j SET locked_by = $1, locked_until = clock_timestamp() + interval '5 seconds'
        FROM next WHERE j.execution_id = next.execution_id
        RETURNING j.execution_id, j.service_name, j.attempts, j.xid::text, j.result::text, j.outside_transaction
        """

    /// Takes over one job whose lease expired (its consumer died, or hangs), for five seconds.
    static func takeOrphan(by holder: String, on connection: PGConnection) throws(PGError) -> Orphan? {
        let result = try connection.executePrepared("spo_job_orphan_v1", sql: takeOrphanSQL, [holder])
        guard result.rowCount > 0, let id = result.value(0, 0), let service = result.value(0, 1) else { return nil }
        return Orphan(
            lease: Lease(
                executionID: id, serviceName: service, holder: holder, claim: Int(result.value(0, 2) ?? "") ?? 0),
            xid: result.value(0, 3), result: result.value(0, 4), outsideTransaction: result.value(0, 5) == "t")
    }

    /// Ends the leases `holder` held now (its process is known to be dead), so recovery need not
    /// wait for them to expire, and wakes the consumers. Returns how many there were.
    @discardableResult
    public static func expireLeases(of holder: String, on connection: PGConnection) throws(PGError) -> Int {
        let result = try connection.execute(
            """
            WITH expired AS (
                UPDATE spo.execution_job SET locked_until = now() - interval '1 millisecond'
                WHERE state = 'running' AND locked_by = $1 RETURNING 1)
            SELECT count(*) FROM expired
            """, [holder])
        let count = Int(result.value(0, 0) ?? "") ?? 0
        if count > 0 { try connection.execute("NOTIFY \(channel)") }
        return count
    }

    /// Seconds until the next queued job is due or the next lease expires (nil: nothing pending).
    static func secondsUntilDue(on connection: PGConnection) throws(PGError) -> Double? {
        let result = try connection.executePrepared(
            "spo_job_due_v1",
            sql: """
                SELECT extract(epoch FROM least(
                    (SELECT min(run_after) FROM spo.execution_job WHERE state = 'queued'),
                    (SELECT min(locked_until) FROM spo.execution_job WHERE state = 'running')) - clock_timestamp())
                """, [])
        return result.value(0, 0).flatMap(Double.init)
    }

    // MARK: - Observation

    /// The queue's depth for metrics: jobs waiting, jobs running, and the age of the oldest
    /// waiting one (0 when none waits).
    public struct Depth: Sendable, Equatable {
        public var queued: Int
        public var running: Int
        public var oldestQueuedSeconds: Double
    }

    /// Reads the depth (one statement, two index scans on the partial indexes).
    public static func depth(on connection: PGConnection) throws(PGError) -> Depth {
        let result = try connection.execute(
            """
            SELECT (SELECT count(*) FROM spo.execution_job WHERE state = 'queued'),
                   (SELECT count(*) FROM spo.execution_job WHERE state = 'running'),
                   coalesce(extract(epoch FROM clock_timestamp()
                       - (SELECT min(created_at) FROM spo.execution_job WHERE state = 'queued')), 0)
            """)
        return Depth(
            queued: Int(result.value(0, 0) ?? "") ?? 0, running: Int(result.value(0, 1) ?? "") ?? 0,
            oldestQueuedSeconds: Double(result.value(0, 2) ?? "") ?? 0)
    }
}
