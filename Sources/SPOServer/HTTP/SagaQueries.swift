import SPOCore
import SPOJSON
import SPOPostgres

/// Reading the saga log (migration 12): sagas a page at a time (`GET /api/sagas`) and one saga
/// with its steps, their compensations and its events (`GET /api/sagas/{id}`). PostgreSQL builds
/// the JSON, so the recorded inputs and outputs keep their exact form.
///
/// Who may read a saga: admin keys, any saga; any other caller only the sagas it started — those
/// whose `owner_key` is its key's prefix, or, while the API is open (no key exists), those started
/// anonymously. To everyone else a saga does not exist (404), as with asynchronous executions.
struct SagaQueries {
    let control: ControlDatabase

    /// The filters of `GET /api/sagas`, validated.
    struct Filter {
        var state: SagaState?
        var service: String?
        var page = KeysetPage()

        static let known: Set = ["state", "service", "cursor", "limit"]

        init(_ query: [String: String]) throws(APIError) {
            var problems: [ParameterProblem] = []
            if let text = query["state"] {
                state = SagaState(rawValue: text)
                if state == nil {
                    let names = SagaState.allCases.map(\.rawValue).joined(separator: ", ")
                    problems.append(.init(parameter: "state", problem: "must be one of: " + names))
                }
            }
            service = query["service"]
            page = KeysetPage(query, problems: &problems)
            for name in query.keys.sorted() where !Self.known.contains(name) {
                problems.append(
                    .init(
                        parameter: name, problem: "unknown filter; use " + Self.known.sorted().joined(separator: ", ")))
            }
            if !problems.isEmpty { throw .invalidParameters(problems) }
        }
    }

    /// The fields of a saga in the list and in its document.
    static let summaryColumns = """
        id, service_name AS service, state, last_step, started_at, updated_at, finished_at, error
        """

    /// One page of sagas, newest first.
    func list(_ filter: Filter) throws(APIError) -> JSONValue {
        let sql = KeysetPage.statement(
            selecting: Self.summaryColumns, from: "spo.saga",
            where: "($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR service_name = $2)", cursor: 3,
            limit: 4)
        let answer = try value(
            sql, [filter.state?.rawValue, filter.service, filter.page.cursor, String(filter.page.limit)])
        return .raw(answer ?? #"{"items":[],"next_cursor":null}"#)
    }

    /// The saga `id` with its timeline, if `principal` may read it; 404 otherwise.
    func saga(_ id: String, for principal: Principal) throws(APIError) -> JSONValue {
        guard ExecutionQueries.isUUID(id) else { throw APIError(.notFound, "no saga \(id)") }
        let sql = """
            SELECT json_build_object(
                'id', s.id, 'service', s.service_name, 'state', s.state, 'last_step', s.last_step,
                'started_at', s.started_at, 'updated_at', s.updated_at, 'finished_at', s.finished_at,
                'error', s.error, 'input', s.input, 'correlation_id', s.correlation_id, 'deadline', s.deadline,
                'steps', coalesce((SELECT json_agg(json_build_object(
                        'position', st.position, 'name', st.name, 'service', st.service_name, 'state', st.state,
                        'execution_id', st.execution_id, 'input', st.input, 'output', st.output, 'error', st.error,
                        'started_at', st.started_at, 'finished_at', st.finished_at,
                        'compensation', (SELECT json_build_object(
                                'service', c.service_name, 'state', c.state, 'attempts', c.attempts,
                                'execution_id', c.execution_id, 'input', c.input, 'error', c.error,
                                'started_at', c.started_at, 'finished_at', c.finished_at)
                            FROM spo.saga_compensation c WHERE c.saga_id = st.saga_id AND c.position = st.position))
                    ORDER BY st.position) FROM spo.saga_step st WHERE st.saga_id = s.id), '[]'),
                'events', coalesce((SELECT json_agg(json_build_object(
                        'id', e.id, 'event', e.event, 'step', e.step, 'detail', e.detail, 'at', e.at) ORDER BY e.id)
                    FROM spo.saga_event e WHERE e.saga_id = s.id), '[]'))::text
            FROM spo.saga s
            WHERE s.id = $1::uuid AND ($2::boolean OR s.owner_key IS NOT DISTINCT FROM $3)
            """
        let isAdmin = principal.key?.role == .admin
        guard let text = try value(sql, [id, isAdmin ? "true" : "false", principal.key?.prefix]) else {
            throw APIError(.notFound, "no saga \(id)")
        }
        return .raw(text)
    }

    private func value(_ sql: String, _ parameters: [String?]) throws(APIError) -> String? {
        do {
            let result = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute(sql, parameters, deadline: .now + control.timeout)
            }
            return result.rowCount > 0 ? result.value(0, 0) : nil
        } catch {
            throw APIError(.dbConnectionFailed, "the control database did not answer: \(error.message)")
        }
    }
}
