import SPOCore
import SPOJSON
import SPOPostgres

/// The audit rows of a parallel call's members.
enum MemberAudit {
    /// The members' `service_execution` rows, linked to the parent (migration 11), in one
    /// statement. Written after the parent's row; a control database lost in between leaves the
    /// parent without them (logged), never members without a parent.
    static func write(
        _ outcome: ParallelOutcome, parent: String, user: String, correlationID: String, control: ControlDatabase
    ) {
        let rows = JSONValue.array(
            outcome.members.map { member in
                let error = member.result.failure
                return .object([
                    .init("id", .string(member.executionID)),
                    .init("service_id", member.service.map { .number(Int($0.id)) } ?? .null),
                    .init("service_name", .string(member.member.service)), .init("parameters", member.parameters),
                    .init("status", .string(member.status.rawValue)),
                    .init("http_status", .number(error?.status ?? 200)),
                    .init("error_code", error.map { .string($0.code.rawValue) } ?? .null),
                    .init("attempts", .number(member.attempts.count)),
                    .init("duration_ms", .number(member.durationMilliseconds)),
                    .init("attempt_log", .raw(AuditLog.attemptsJSON(member.attempts))),
                    .init("member_name", .string(member.member.name)),
                ])
            })
        do throws(PGError) {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.executePrepared(
                    "spo_audit_members_v1", sql: membersSQL,
                    [parent, user, correlationID, rows.serialized()])
            }
        } catch {
            Log.warning(
                "member executions not audited",
                ["execution_id": .string(parent), "error": .string(error.description)],
                component: .audit)
        }
    }

    static let membersSQL = """
        INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, http_status, error_code,
            attempts, duration_ms, user_name, correlation_id, attempt_log, started_at, finished_at,
            parent_execution_id, member_name)
        SELECT m.id, m.service_id, m.service_name, m.parameters, m.status, m.http_status, m.error_code, m.attempts,
            m.duration_ms, $2, $3, m.attempt_log, clock_timestamp() - make_interval(secs => m.duration_ms / 1000),
            clock_timestamp(), $1::uuid, m.member_name
        FROM jsonb_to_recordset($4::jsonb) AS m(id uuid, service_id bigint, service_name text, parameters jsonb,
            status text, http_status int, error_code text, attempts int, duration_ms float8, attempt_log jsonb,
            member_name text)
        ON CONFLICT (id) DO NOTHING
        """
}
