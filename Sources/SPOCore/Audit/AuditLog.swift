import Foundation
import SPOJSON
import SPOPostgres

/// Writes audit records to the control database: the execution, each attempt and the error, in
/// one prepared statement and one round trip.
public struct AuditLog {
    static let statementName = "spo_audit_v1"

    static let sql = """
        WITH execution AS (
            INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, http_status,
                error_code, attempts, duration_ms, user_name, correlation_id, idempotency_key, reprocess_of,
                started_at, finished_at)
            SELECT $1::uuid, $2::bigint, $3, $4::jsonb, $5, $6::int, $7, $8::int, $9::float8, $10, $11, $12,
                $13::uuid, clock_timestamp() - make_interval(secs => $9::float8 / 1000), clock_timestamp()
            WHERE $1::uuid IS NOT NULL
        ), attempts AS (
            INSERT INTO spo.service_log (execution_id, attempt, outcome, sqlstate, message, connect_ms, execute_ms,
                worker_pid, started_at)
            SELECT $1::uuid, a.attempt, a.outcome, a.sqlstate, a.message, a.connect_ms, a.execute_ms, $14::int,
                clock_timestamp() - make_interval(secs => ($9::float8 - a.offset_ms) / 1000)
            FROM jsonb_to_recordset($15::jsonb) AS a(attempt int, outcome text, sqlstate text, message text,
                offset_ms float8, connect_ms float8, execute_ms float8)
            WHERE $1::uuid IS NOT NULL
        ), failure AS (
            INSERT INTO spo.service_error (reference, execution_id, service_name, code, http_status, sqlstate,
                message, detail)
            SELECT $16::uuid, $1::uuid, $17, $18, $19::int, $20, $21, $22::jsonb
            WHERE $16::uuid IS NOT NULL
        )
        SELECT 1
        """

    private let processID = String(getpid())

    public init() {}

    /// Writes the record. Throws when the control database is unreachable.
    public func write(_ record: AuditRecord, to connection: PGConnection) throws(PGError) {
        let execution = record.execution
        let failure = record.failure
        let parameters: [String?] = [
            execution?.id,
            execution.map { String($0.serviceID) },
            execution?.serviceName,
            execution?.parameters?.serialized(),
            execution?.status,
            execution.map { String($0.httpStatus) },
            execution?.errorCode,
            execution.map { String($0.attempts.count) },
            execution.map { String($0.durationMilliseconds) } ?? "0",
            execution?.user,
            execution?.correlationID,
            execution?.idempotencyKey,
            execution?.reprocessOf,
            processID,
            execution.map { AuditLog.attemptsJSON($0.attempts) } ?? "[]",
            failure?.reference,
            failure?.serviceName,
            failure?.error.code.rawValue,
            failure.map { String($0.error.code.httpStatus) },
            failure?.error.sqlstate,
            failure?.error.message,
            failure.map { JSONValue.array($0.error.details).serialized() },
        ]
        try connection.executePrepared(AuditLog.statementName, sql: AuditLog.sql, parameters)
    }

    static func attemptsJSON(_ attempts: [AttemptRecord]) -> String {
        JSONValue.array(
            attempts.map { attempt in
                .object([
                    "attempt": .number(attempt.attempt), "outcome": .string(attempt.outcome),
                    "sqlstate": attempt.sqlstate.map(JSONValue.string) ?? .null,
                    "message": attempt.message.map(JSONValue.string) ?? .null,
                    "offset_ms": .number(attempt.offsetMilliseconds),
                    "connect_ms": .number(attempt.connectMilliseconds),
                    "execute_ms": .number(attempt.executeMilliseconds),
                ])
            }
        ).serialized()
    }
}
