import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// Writes audit records to the control database: the execution with its attempts (one row of
/// `service_execution`, read per attempt through the `service_log` view) and the error, in one
/// prepared statement and one round trip.
public struct AuditLog {
    /// When an audit row is durable. Set with `SPO_AUDIT_COMMIT` (`sync`, the default, or `async`).
    public enum CommitMode: String, Sendable {
        /// Each audit row is flushed to PostgreSQL's WAL on disk before the response is sent.
        case sync
        /// Audit rows are committed (visible at once) without waiting for the disk flush; a crash
        /// of PostgreSQL or of the machine — not of a worker — can lose the last ~0.6 s of them.
        /// About a fifth more throughput on the benchmark.
        case async

        /// The value of PostgreSQL's `synchronous_commit` for the control connection.
        public var synchronousCommit: String { self == .sync ? "on" : "off" }

        /// `SPO_AUDIT_COMMIT`, or `sync`.
        public static func fromEnvironment() -> CommitMode {
            CommitMode(rawValue: ProcessInfo.processInfo.environment["SPO_AUDIT_COMMIT"] ?? "sync") ?? .sync
        }
    }

    /// The three shapes of an audit statement, each in two forms. The request path writes rows
    /// with ids it has just made, which cannot exist yet: a plain INSERT. Replays run the form that
    /// tolerates being run again for the same record (`ON CONFLICT DO NOTHING`): a spooled record
    /// may be replayed after it was committed, and a dead worker's execution noted `interrupted`
    /// after it was audited with its real outcome. (PostgreSQL's speculative insertion, which
    /// ON CONFLICT needs, is work every request would pay for nothing.)
    enum Statement: String, Sendable, CaseIterable {
        /// An execution without an error.
        case execution
        /// An execution and its error, the error written only with a new execution row.
        case executionWithError = "execution_error"
        /// An error that belongs to no execution (unknown service, bad route).
        case error
        /// `execution`, completing the `Idempotency-Key` it held.
        case executionKeyed = "execution_keyed"
        /// `executionWithError`, completing the `Idempotency-Key` it held.
        case executionWithErrorKeyed = "execution_error_keyed"

        /// The prepared statement's name; it changes when the SQL does.
        func name(tolerant: Bool) -> String {
            switch (self, tolerant) {
            case (.execution, false): "spo_audit_execution_v3"
            case (.executionWithError, false): "spo_audit_execution_error_v4"
            case (.error, false): "spo_audit_error_v4"
            case (.execution, true): "spo_audit_execution_replay_v3"
            case (.executionWithError, true): "spo_audit_execution_error_replay_v4"
            case (.error, true): "spo_audit_error_replay_v4"
            case (.executionKeyed, false): "spo_audit_execution_keyed_v2"
            case (.executionWithErrorKeyed, false): "spo_audit_execution_error_keyed_v3"
            case (.executionKeyed, true): "spo_audit_execution_keyed_replay_v2"
            case (.executionWithErrorKeyed, true): "spo_audit_execution_error_keyed_replay_v3"
            }
        }

        /// Built once: every request runs one of these, and interpolating them showed in profiles.
        func sql(tolerant: Bool) -> String {
            switch (self, tolerant) {
            case (.execution, false): Statement.executionSQL
            case (.executionWithError, false): Statement.executionWithErrorSQL
            case (.error, false): Statement.errorSQL
            case (.execution, true): Statement.executionReplaySQL
            case (.executionWithError, true): Statement.executionWithErrorReplaySQL
            case (.error, true): Statement.errorReplaySQL
            case (.executionKeyed, false): Statement.executionKeyedSQL
            case (.executionWithErrorKeyed, false): Statement.executionWithErrorKeyedSQL
            case (.executionKeyed, true): Statement.executionKeyedReplaySQL
            case (.executionWithErrorKeyed, true): Statement.executionWithErrorKeyedReplaySQL
            }
        }

        private static let executionSQL = AuditLog.executionInsert(finishedAt: 15, tolerant: false)
        private static let executionReplaySQL = AuditLog.executionInsert(finishedAt: 15, tolerant: true)
        private static let executionWithErrorSQL = executionWithError(tolerant: false)
        private static let executionWithErrorReplaySQL = executionWithError(tolerant: true)
        private static let errorSQL = error(tolerant: false)
        private static let errorReplaySQL = error(tolerant: true)
        // The keyed forms put the key's completion before the plain statements, as CTEs: their
        // values follow the plain statement's (15 and 20 of them).
        private static let executionKeyedSQL = "WITH \(completion(from: 16)) " + executionSQL
        private static let executionKeyedReplaySQL = "WITH \(completion(from: 16)) " + executionReplaySQL
        private static let executionWithErrorKeyedSQL =
            "WITH \(completion(from: 21)), " + executionWithErrorSQL.dropFirst("WITH ".count)
        private static let executionWithErrorKeyedReplaySQL =
            "WITH \(completion(from: 21)), " + executionWithErrorReplaySQL.dropFirst("WITH ".count)

        /// Keeps the answer of execution `$1` under its key (body, headers, scope, key,
        /// fingerprint, service and TTL from parameter `first` on; the status is the execution's,
        /// `$6`), or — with no body — deletes the key's row. Only the claim of this very execution
        /// is touched: a key taken over since (its worker was presumed dead) belongs to another
        /// execution now. An upsert, because the claim is committed without waiting for the disk:
        /// one a PostgreSQL crash lost is written here with the answer, durably.
        private static func completion(from first: Int) -> String {
            let p = (first..<first + 7).map { "$\($0)" }
            let (body, headers, scope, key) = ("\(p[0])::text", "\(p[1])::jsonb", "\(p[2])::text", "\(p[3])::text")
            return "spo_key_kept AS (INSERT INTO spo.idempotency_key AS k (scope, key, fingerprint, service_name, "
                + "state, execution_id, http_status, response_body, response_headers, expires_at) "
                + "SELECT \(scope), \(key), \(p[4])::text, \(p[5])::text, 'completed', $1::uuid, $6::int, \(body), "
                + "\(headers), now() + make_interval(secs => \(p[6])::int) WHERE \(body) IS NOT NULL "
                + "ON CONFLICT (scope, key) DO UPDATE SET state = 'completed', http_status = EXCLUDED.http_status, "
                + "response_body = EXCLUDED.response_body, response_headers = EXCLUDED.response_headers, "
                + "locked_until = NULL WHERE k.execution_id = EXCLUDED.execution_id), "
                + "spo_key_released AS (DELETE FROM spo.idempotency_key WHERE scope = \(scope) AND key = \(key) "
                + "AND execution_id = $1::uuid AND \(body) IS NULL)"
        }

        private static func executionWithError(tolerant: Bool) -> String {
            "WITH execution AS (\(AuditLog.executionInsert(finishedAt: 20, tolerant: tolerant)) RETURNING id) "
                + "\(AuditLog.errorColumns) SELECT $15::uuid, id, $3::text, $16::text, $6::int, $17::text, $18::text, "
                + "$19::jsonb, \(AuditLog.time(20, else: "now()")), $11::text FROM execution"
                + (tolerant ? " ON CONFLICT (reference) DO NOTHING" : "")
        }

        private static func error(tolerant: Bool) -> String {
            "\(AuditLog.errorColumns) VALUES ($1::uuid, NULL, $2, $3, $4::int, $5, $6, $7::jsonb, "
                + "\(AuditLog.time(8, else: "now()")), $9::text)"
                + (tolerant ? " ON CONFLICT (reference) DO NOTHING" : "")
        }
    }

    /// The finish time: parameter `index` (epoch milliseconds) when the record was spooled, so a
    /// replay keeps the times of the answer; NULL on the request path, where the database's clock is used.
    static func time(_ index: Int, else now: String) -> String {
        "coalesce(to_timestamp($\(index)::float8 / 1000), \(now))"
    }

    static func executionInsert(finishedAt index: Int, tolerant: Bool) -> String {
        """
        INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, http_status,
            error_code, attempts, duration_ms, user_name, correlation_id, idempotency_key, reprocess_of,
            attempt_log, started_at, finished_at)
        VALUES ($1::uuid, $2::bigint, $3, $4::jsonb, $5, $6::int, $7, $8::int, $9::float8, $10, $11, $12,
            $13::uuid, $14::jsonb, \(time(index, else: "clock_timestamp()")) - make_interval(secs => $9::float8 / 1000),
            \(time(index, else: "clock_timestamp()")))
        """ + (tolerant ? " ON CONFLICT (id) DO NOTHING" : "")
    }

    static let errorColumns = """
        INSERT INTO spo.service_error (reference, execution_id, service_name, code, http_status, sqlstate,
            message, detail, created_at, correlation_id)
        """

    private let processID = String(getpid())

    public init() {}

    /// Writes the record. Throws when the control database is unreachable or refuses it.
    /// `tolerant` when the record may have been written already (recovering a dead worker's).
    public func write(_ record: AuditRecord, to connection: PGConnection, tolerant: Bool = false) throws(PGError) {
        guard let (statement, values) = statement(for: record) else { return }
        try AuditLog.run(statement, values, on: connection, tolerant: tolerant)
    }

    /// Runs one audit statement with its values (a record's, or a spooled one's: `tolerant`).
    static func run(_ statement: Statement, _ values: [String?], on connection: PGConnection, tolerant: Bool)
        throws(PGError)
    {
        // A record spooled by a version before migration 10 lacks the error row's correlation id.
        let values = statement == .error && values.count == 8 ? values + [nil] : values
        try connection.executePrepared(
            statement.name(tolerant: tolerant), sql: statement.sql(tolerant: tolerant), values)
    }

    /// The statement writing `record` and its values; `finishedAt` fixes the finish time (for a
    /// record that is spooled now and written later). Nil when there is nothing to write.
    func statement(for record: AuditRecord, finishedAt: Date? = nil) -> (Statement, [String?])? {
        var values: [String?] = []
        values.reserveCapacity(28)  // the most a statement has: an execution, its error and its key
        return statement(for: record, finishedAt: finishedAt, into: &values).map { ($0, values) }
    }

    /// The statement writing `record`, its values appended to `values` in the statement's order.
    func statement<Values: AuditValues>(for record: AuditRecord, finishedAt: Date? = nil, into values: inout Values)
        -> Statement?
    {
        let finished = finishedAt.map { String($0.timeIntervalSince1970 * 1000) }
        guard let execution = record.execution else {
            guard let failure = record.failure else { return nil }
            values.append(failure.reference)
            values.append(failure.serviceName)
            values.append(failure.error.code.rawValue)
            values.append(String(failure.error.status))
            AuditLog.appendDiagnostics(of: failure.error, to: &values)
            values.append(finished)
            values.append(failure.correlationID)
            return .error
        }
        values.append(execution.id)
        values.append(execution.serviceID > 0 ? String(execution.serviceID) : nil)
        values.append(execution.serviceName)
        if let parameters = execution.parameters {
            values.appendText { parameters.write(to: &$0) }
        } else {
            values.append(nil)
        }
        values.append(execution.status.rawValue)
        values.append(String(execution.httpStatus))
        values.append(execution.errorCode)
        values.append(String(execution.attempts.count))
        values.append(AuditLog.millisecondsText(execution.durationMilliseconds))
        values.append(execution.user)
        values.append(execution.correlationID)
        values.append(execution.idempotencyKey)
        values.append(execution.reprocessOf)
        values.appendText { AuditLog.writeAttempts(execution.attempts, workerPID: processID, to: &$0) }
        if let failure = record.failure {
            values.append(failure.reference)
            values.append(failure.error.code.rawValue)
            AuditLog.appendDiagnostics(of: failure.error, to: &values)
        }
        values.append(finished)
        guard let idempotency = record.idempotency else {
            return record.failure == nil ? .execution : .executionWithError
        }
        for value in idempotency.values { values.append(value) }
        return record.failure == nil ? .executionKeyed : .executionWithErrorKeyed
    }

    /// An error row's SQLSTATE, message and details — what administrators see: detail and hint included.
    private static func appendDiagnostics<Values: AuditValues>(of error: APIError, to values: inout Values) {
        values.append(error.sqlstate)
        values.append(error.message)
        values.appendText { JSONValue.array(error.details(for: .administrator)).write(to: &$0) }
    }

    /// The `attempt_log` JSON of `attempts`.
    static func attemptsJSON(_ attempts: [AttemptRecord], workerPID: String? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(128 * attempts.count + 2)
        writeAttempts(attempts, workerPID: workerPID, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the `attempt_log` JSON of `attempts`, written straight as bytes: it is built on
    /// every request, and a tree of members per attempt cost more than the rest of the audit row.
    static func writeAttempts(_ attempts: [AttemptRecord], workerPID: String? = nil, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, attempt) in attempts.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.appendUTF8(#"{"attempt":"#)
            JSONValue.writeDigits(UInt64(max(attempt.attempt, 0)), to: &out)
            out.appendUTF8(#","outcome":"#)
            JSONValue.writeString(attempt.outcome.rawValue, to: &out)
            // Absent rather than null when there is nothing to say: every request stores this,
            // and the service_log view reads a missing key as NULL all the same.
            if let sqlstate = attempt.sqlstate {
                out.appendUTF8(#","sqlstate":"#)
                JSONValue.writeString(sqlstate, to: &out)
            }
            if let message = attempt.message {
                out.appendUTF8(#","message":"#)
                JSONValue.writeString(message, to: &out)
            }
            out.appendUTF8(#","offset_ms":"#)
            JSONValue.writeMilliseconds(attempt.offsetMilliseconds, to: &out)
            out.appendUTF8(#","connect_ms":"#)
            JSONValue.writeMilliseconds(attempt.connectMilliseconds, to: &out)
            out.appendUTF8(#","execute_ms":"#)
            JSONValue.writeMilliseconds(attempt.executeMilliseconds, to: &out)
            if let workerPID {
                out.appendUTF8(#","worker_pid":"#)
                out.appendUTF8(workerPID)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// `milliseconds` as the audit's float8 parameter, in the attempt log's form (`NaN` and
    /// `Infinity` as PostgreSQL reads them, not JSON's `null`).
    static func millisecondsText(_ milliseconds: Double) -> String {
        JSONValue.millisecondsText(milliseconds) ?? String(milliseconds)
    }
}
