import Foundation
import SPOCore
import SPOJSON

/// The execution row of one saga step or compensation (`member_name`, `parent_execution_id`:
/// migration 11) and its error row, written in the same statement as the saga log's change.
struct SagaMemberAudit {
    var executionID: String
    var service: ServiceDefinition?
    var serviceName: String
    var member: String
    var parameters: JSONValue?
    var error: APIError?
    var attempts: [AttemptRecord]
    var duration: Double
    var user: String
    var correlationID: String

    /// The 17 values `cte(from:when:)` reads, in order.
    var values: [String?] {
        [
            executionID, service.map { String($0.id) }, serviceName, parameters?.serialized(),
            ExecutionStatus(answering: error).rawValue, String(error?.status ?? 200), error?.code.rawValue,
            String(attempts.count), String(duration), user, correlationID,
            AuditLog.attemptsJSON(attempts, workerPID: String(getpid())), member, error.map { _ in RandomID.uuid() },
            error?.sqlstate, error?.message,
            error.map { JSONValue.array($0.details(for: .administrator)).serialized() },
        ]
    }

    /// Two CTEs writing the rows when the CTE `when` returned a row (the saga log's write passed
    /// its fence); `$1` is the saga's id, the parent execution.
    static func cte(from first: Int, when guardCTE: String) -> String {
        let p = (first..<first + 17).map { "$\($0)" }
        return """
            member_audit AS (
                INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, http_status,
                    error_code, attempts, duration_ms, user_name, correlation_id, attempt_log, started_at, finished_at,
                    parent_execution_id, member_name)
                SELECT \(p[0])::uuid, \(p[1])::bigint, \(p[2])::text, \(p[3])::jsonb, \(p[4])::text, \(p[5])::int,
                    \(p[6])::text, \(p[7])::int, \(p[8])::float8, \(p[9])::text, \(p[10])::text, \(p[11])::jsonb,
                    clock_timestamp() - make_interval(secs => \(p[8])::float8 / 1000), clock_timestamp(), $1::uuid,
                    \(p[12])::text
                FROM \(guardCTE) ON CONFLICT (id) DO NOTHING RETURNING id),
            member_error AS (
                INSERT INTO spo.service_error (reference, execution_id, service_name, code, http_status, sqlstate,
                    message, detail, created_at, correlation_id)
                SELECT \(p[13])::uuid, id, \(p[2])::text, \(p[6])::text, \(p[5])::int, \(p[14])::text, \(p[15])::text,
                    \(p[16])::jsonb, clock_timestamp(), \(p[10])::text
                FROM member_audit WHERE \(p[13])::uuid IS NOT NULL)
            """
    }
}
