import Foundation
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

    static let executionColumns = """
        INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, http_status,
            error_code, attempts, duration_ms, user_name, correlation_id, idempotency_key, reprocess_of,
            attempt_log, started_at, finished_at)
        VALUES ($1::uuid, $2::bigint, $3, $4::jsonb, $5, $6::int, $7, $8::int, $9::float8, $10, $11, $12,
            $13::uuid, $14::jsonb, clock_timestamp() - make_interval(secs => $9::float8 / 1000), clock_timestamp())
        """

    static let errorColumns = """
        INSERT INTO spo.service_error (reference, execution_id, service_name, code, http_status, sqlstate,
            message, detail)
        """

    /// The request path: an execution without an error.
    static let executionStatement = ("spo_audit_execution_v1", executionColumns)

    static let executionWithErrorStatement = (
        "spo_audit_execution_error_v1",
        "WITH execution AS (\(executionColumns)) \(errorColumns) "
            + "VALUES ($15::uuid, $1::uuid, $3, $16, $6::int, $17, $18, $19::jsonb)"
    )

    /// An error that belongs to no execution (unknown service, bad route).
    static let errorStatement = (
        "spo_audit_error_v1", "\(errorColumns) VALUES ($1::uuid, NULL, $2, $3, $4::int, $5, $6, $7::jsonb)"
    )

    private let processID = String(getpid())

    public init() {}

    /// Writes the record. Throws when the control database is unreachable.
    public func write(_ record: AuditRecord, to connection: PGConnection) throws(PGError) {
        let failure: [String?] =
            record.failure.map { failure in
                [
                    failure.reference, failure.error.code.rawValue, failure.error.sqlstate, failure.error.message,
                    // The audit keeps what administrators see: detail and hint included.
                    JSONValue.array(failure.error.details(for: .administrator)).serialized(),
                ]
            } ?? []
        guard let execution = record.execution else {
            guard let error = record.failure else { return }
            let values =
                [failure[0], error.serviceName, failure[1], String(error.error.status)] + failure[2...]
            try connection.executePrepared(AuditLog.errorStatement.0, sql: AuditLog.errorStatement.1, values)
            return
        }
        let values: [String?] = [
            execution.id, execution.serviceID > 0 ? String(execution.serviceID) : nil, execution.serviceName,
            execution.parameters?.serialized(), execution.status, String(execution.httpStatus), execution.errorCode,
            String(execution.attempts.count), String(execution.durationMilliseconds), execution.user,
            execution.correlationID, execution.idempotencyKey, execution.reprocessOf,
            AuditLog.attemptsJSON(execution.attempts, workerPID: processID),
        ]
        let statement = failure.isEmpty ? AuditLog.executionStatement : AuditLog.executionWithErrorStatement
        try connection.executePrepared(statement.0, sql: statement.1, values + failure)
    }

    static func attemptsJSON(_ attempts: [AttemptRecord], workerPID: String? = nil) -> String {
        JSONValue.array(
            attempts.map { attempt in
                // Absent rather than null when there is nothing to say: every request stores this,
                // and the service_log view reads a missing key as NULL all the same.
                var members: [JSONValue.Member] = [
                    .init("attempt", .number(attempt.attempt)), .init("outcome", .string(attempt.outcome)),
                ]
                if let sqlstate = attempt.sqlstate { members.append(.init("sqlstate", .string(sqlstate))) }
                if let message = attempt.message { members.append(.init("message", .string(message))) }
                members += [
                    .init("offset_ms", .number(attempt.offsetMilliseconds)),
                    .init("connect_ms", .number(attempt.connectMilliseconds)),
                    .init("execute_ms", .number(attempt.executeMilliseconds)),
                ]
                if let workerPID { members.append(.init("worker_pid", .number(workerPID))) }
                return .object(members)
            }
        ).serialized()
    }
}
