import SPOCore
import SPOJSON
import SPOPostgres

/// Reading the audit: executions (cursor-paginated), one execution with its attempts, errors and
/// reprocessing history, one error. PostgreSQL builds the JSON, so values keep their exact form.
struct ExecutionQueries {
    let control: ControlDatabase

    /// The filters of `GET /api/executions`, validated.
    struct Filter {
        var service: String?
        var status: String?
        var since: String?
        var until: String?
        /// Which page: its size and the id of the previous page's last row.
        var page = KeysetPage()

        init(_ query: [String: String]) throws(APIError) {
            var problems: [ParameterProblem] = []
            service = query["service"]
            status = query["status"]
            if let status, ExecutionStatus(rawValue: status) == nil {
                let names = ExecutionStatus.allCases.map(\.rawValue)
                problems.append(.init(parameter: "status", problem: "must be one of: " + names.joined(separator: ", ")))
            }
            for (name, value) in [("since", query["since"]), ("until", query["until"])] {
                guard let value else { continue }
                if ParameterValidator(parameters: [ParameterSpec(name: name, type: SQLType(.timestamptz))])
                    .validate(.object([name: .string(value)])).isFailure
                {
                    problems.append(.init(parameter: name, problem: "must be an ISO 8601 timestamp"))
                }
            }
            since = query["since"]
            until = query["until"]
            page = KeysetPage(query, problems: &problems)
            let known: Set = ["service", "status", "since", "until", "limit", "cursor"]
            for name in query.keys.sorted() where !known.contains(name) {
                problems.append(
                    .init(parameter: name, problem: "unknown filter; use " + known.sorted().joined(separator: ", ")))
            }
            if !problems.isEmpty { throw .invalidParameters(problems) }
        }
    }

    static let summaryColumns = """
        id, service_name AS service, status, http_status, error_code, attempts, duration_ms, user_name AS user,
        correlation_id, reprocess_of, started_at, finished_at
        """

    /// A time filter also bounds the ids (UUIDv7: the time a request arrived), widened by the slack
    /// between the clocks, so that the days outside it are pruned from the plan and the page is
    /// read from the primary key's range in order (migration 17). Parameters: service, status,
    /// since, until, cursor, limit.
    static let listSQL = KeysetPage.statement(
        selecting: ExecutionQueries.summaryColumns, from: "spo.service_execution",
        where: """
            ($1::text IS NULL OR service_name = $1) AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL
                OR started_at >= $3 AND id >= spo.execution_id_floor($3, -spo.execution_id_slack()))
              AND ($4::timestamptz IS NULL
                OR started_at < $4 AND id < spo.execution_id_floor($4, spo.execution_id_slack()))
            """, cursor: 5, limit: 6)

    func list(_ filter: Filter) throws(APIError) -> JSONValue {
        try json(
            ExecutionQueries.listSQL,
            [filter.service, filter.status, filter.since, filter.until, filter.page.cursor, String(filter.page.limit)])
    }

    /// Its rows are found by the id itself, a constant when planned: one day's partition is read, not
    /// every day's. Members are made after their parent, so their ids are no older than its id (less
    /// the slack between the clocks).
    static let executionSQL = """
        SELECT json_build_object(
            'id', e.id, 'service', e.service_name, 'status', e.status, 'http_status', e.http_status,
            'error_code', e.error_code, 'attempts', e.attempts, 'duration_ms', e.duration_ms,
            'user', e.user_name, 'correlation_id', e.correlation_id, 'idempotency_key', e.idempotency_key,
            'parameters', e.parameters, 'reprocess_of', e.reprocess_of, 'started_at', e.started_at,
            'finished_at', e.finished_at,
            'attempt_log', coalesce((SELECT json_agg(l ORDER BY l.attempt) FROM spo.service_log l
                WHERE l.execution_id = $1::uuid), '[]'),
            'errors', coalesce((SELECT json_agg(x ORDER BY x.created_at) FROM spo.service_error x
                WHERE x.execution_id = e.id), '[]'),
            'reprocessed_as', coalesce((SELECT json_agg(r ORDER BY r.created_at) FROM spo.service_reprocessing r
                WHERE r.original_execution_id = e.id), '[]'),
            'reprocessing_of', (SELECT row_to_json(r) FROM spo.service_reprocessing r
                WHERE r.new_execution_id = e.id LIMIT 1),
            'data', (SELECT j.result FROM spo.execution_job j WHERE j.execution_id = e.id),
            'parent_execution_id', e.parent_execution_id, 'member', e.member_name,
            'members', coalesce((SELECT json_agg(json_build_object('execution_id', m.id, 'member', m.member_name,
                'service', m.service_name, 'status', m.status, 'http_status', m.http_status,
                'error_code', m.error_code, 'duration_ms', m.duration_ms) ORDER BY m.started_at, m.member_name)
                FROM spo.service_execution m WHERE m.parent_execution_id = e.id
                  AND m.id >= spo.execution_id_floor(spo.execution_id_time($1::uuid), -spo.execution_id_slack())),
                '[]'))::text
        FROM spo.service_execution e WHERE e.id = $1::uuid
        """

    func execution(_ id: String) throws(APIError) -> JSONValue {
        guard ExecutionQueries.isUUID(id) else { throw APIError(.notFound, "no execution \(id)") }
        guard let found = try optionalJSON(ExecutionQueries.executionSQL, [id]) else {
            throw APIError(.notFound, "no execution \(id)")
        }
        return found
    }

    func error(_ reference: String) throws(APIError) -> JSONValue {
        guard ExecutionQueries.isUUID(reference) else { throw APIError(.notFound, "no error \(reference)") }
        let sql = "SELECT row_to_json(x)::text FROM spo.service_error x WHERE x.reference = $1::uuid"
        guard let found = try optionalJSON(sql, [reference]) else { throw APIError(.notFound, "no error \(reference)") }
        return found
    }

    /// The service, parameters and status of a recorded execution.
    func original(_ id: String) throws(APIError) -> (service: String, parameters: JSONValue?, status: String) {
        guard ExecutionQueries.isUUID(id),
            let found = try optionalJSON(
                "SELECT json_build_object('service', service_name, 'parameters', parameters, 'status', status)::text "
                    + "FROM spo.service_execution WHERE id = $1::uuid", [id])
        else { throw APIError(.notFound, "no execution \(id)") }
        guard case .raw(let text) = found, let value = try? JSONValue.parse(text),
            let service = value["service"]?.stringValue, let status = value["status"]?.stringValue
        else { throw APIError(.internalError, "execution \(id) could not be read") }
        return (service, value["parameters"], status)
    }

    private func json(_ sql: String, _ parameters: [String?]) throws(APIError) -> JSONValue {
        guard let value = try optionalJSON(sql, parameters) else { return .null }
        return value
    }

    private func optionalJSON(_ sql: String, _ parameters: [String?]) throws(APIError) -> JSONValue? {
        do {
            let result = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute(sql, parameters, deadline: .now + .seconds(10))
            }
            guard result.rowCount > 0, let text = result.value(0, 0) else { return nil }
            return .raw(text)
        } catch {
            throw APIError(
                .dbConnectionFailed, "the control database did not answer: \(DatabaseFailureText.forClients(error))")
        }
    }

    static func isUUID(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        // ASCII only: `Character.isHexDigit` also accepts fullwidth digits, which PostgreSQL refuses.
        return parts == [8, 4, 4, 4, 12] && text.allSatisfy { $0 == "-" || ($0.isASCII && $0.isHexDigit) }
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
