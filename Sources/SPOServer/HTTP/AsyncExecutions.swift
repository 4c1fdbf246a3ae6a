import SPOCore
import SPOJSON
import SPOPostgres

/// Asynchronous executions on the request side: queuing a validated call (`Prefer:
/// respond-async`), and reading executions back for whoever may read them.
///
/// Who may read an execution: admin keys, any execution (the administration view); any other
/// caller, only the asynchronous executions it queued itself — those whose job records its key's
/// prefix, or, while the API is open (no key exists), those queued anonymously. To everyone else
/// an execution does not exist (404, or a null status), so ids tell nothing about other callers.
struct AsyncExecutions {
    let control: ControlDatabase

    /// Queues the execution: its `queued` row and its job, in one statement. Throws 503
    /// `AUDIT_UNAVAILABLE` when the control database cannot take it (nothing was queued).
    func enqueue(
        _ service: ServiceDefinition, parameters: JSONValue, executionID: String, _ context: RequestContext
    ) throws(APIError) {
        do throws(PGError) {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                try JobQueue.enqueue(
                    executionID: executionID, service: service, parameters: parameters, user: context.user,
                    correlationID: context.correlationID, idempotencyKey: context.idempotencyKey,
                    ownerKey: context.principal.key?.prefix, on: connection)
            }
        } catch {
            throw APIError(
                .auditUnavailable, "the job queue (control database) is unavailable; nothing was queued, try again")
        }
    }

    /// The refusal of `Prefer: respond-async` for a service with sensitive parameters: a queued
    /// job's parameters wait in the control database, where a secret value must never be.
    static func refusesSensitive(_ sensitive: SensitiveParameters) -> APIError {
        .invalidParameters(
            sensitive.names.map {
                ParameterProblem(
                    parameter: $0,
                    problem: "is sensitive, so the service cannot be queued (Prefer: respond-async); call it "
                        + "without that preference")
            })
    }

    /// 202 with the execution to poll.
    static func accepted(_ executionID: String, service: String, headers: [(String, String)]) -> HTTPResponse {
        .json(
            202,
            .object([
                "execution_id": .string(executionID), "service": .string(service),
                "status": .string(ExecutionStatus.queued.rawValue),
            ]),
            headers: headers + [
                ("Location", "/api/executions/\(executionID)"), ("Preference-Applied", "respond-async"),
                ("X-Execution-ID", executionID),
            ])
    }

    /// An execution as its queuer sees it: status, timings and, once done, `data` or `error` (the
    /// error as the synchronous call would have answered it to this caller).
    func ownExecution(_ id: String, _ principal: Principal) throws(APIError) -> JSONValue {
        guard ExecutionQueries.isUUID(id) else { throw APIError(.notFound, "no execution \(id)") }
        let sql = """
            SELECT json_build_object(
                'id', e.id, 'service', e.service_name, 'status', e.status, 'attempts', e.attempts,
                'duration_ms', e.duration_ms, 'started_at', e.started_at, 'finished_at', e.finished_at,
                'data', j.result,
                'error', (SELECT json_build_object('code', x.code, 'message', x.message, 'reference', x.reference,
                        'details', coalesce((SELECT jsonb_agg(d - 'detail' - 'hint') FROM jsonb_array_elements(x.detail) d),
                            '[]'))
                    FROM spo.service_error x WHERE x.execution_id = e.id ORDER BY x.created_at LIMIT 1))::text
            FROM spo.execution_job j JOIN spo.service_execution e ON e.id = j.execution_id
            WHERE j.execution_id = $1::uuid AND j.owner_key IS NOT DISTINCT FROM $2
            """
        guard let text = try value(sql, [id, principal.key?.prefix]) else {
            throw APIError(.notFound, "no execution \(id)")
        }
        return .raw(text)
    }

    /// `{"ids": [...]}` → each id's status, in the order asked (null: unknown, or not the caller's).
    func statuses(_ body: [UInt8], _ principal: Principal) throws(APIError) -> JSONValue {
        let ids = try Self.ids(body)
        let sql = """
            SELECT json_build_object('items', json_agg(json_build_object('execution_id', i.id, 'status', e.status)
                ORDER BY i.n))::text
            FROM unnest($1::uuid[]) WITH ORDINALITY AS i(id, n)
            LEFT JOIN spo.service_execution e ON e.id = i.id AND ($2::boolean OR EXISTS (
                SELECT 1 FROM spo.execution_job j WHERE j.execution_id = e.id AND j.owner_key IS NOT DISTINCT FROM $3))
            """
        let isAdmin = principal.key?.role == .admin
        // Validated as UUIDs above, so the array literal holds nothing but hex digits and dashes.
        let array = "{" + ids.joined(separator: ",") + "}"
        return .raw(try value(sql, [array, isAdmin ? "true" : "false", principal.key?.prefix]) ?? #"{"items":[]}"#)
    }

    /// The ids of a status request: a JSON object with `ids`, 1 to `executionStatusLimit` UUIDs.
    static func ids(_ body: [UInt8]) throws(APIError) -> [String] {
        let limit = EndpointTable.executionStatusLimit
        let document: JSONValue
        // The default shape limits: a list of ids needs none of what an operator may raise them for.
        switch RequestLimits.defaults.decode(body) {
        case .success(let decoded): document = decoded
        case .failure(let failure): throw .invalidParameters(failure.problems)
        }
        var problems: [ParameterProblem] = []
        for member in document.members ?? [] where member.key != "ids" {
            problems.append(.init(parameter: member.key, problem: "unknown field; send {\"ids\": [...]}"))
        }
        guard let list = document["ids"]?.arrayValue, (1...limit).contains(list.count) else {
            problems.append(.init(parameter: "ids", problem: "must be an array of 1 to \(limit) execution ids"))
            throw .invalidParameters(problems)
        }
        var ids: [String] = []
        for (index, item) in list.enumerated() {
            guard let text = item.stringValue, ExecutionQueries.isUUID(text) else {
                problems.append(.init(parameter: "ids[\(index)]", problem: "must be an execution id (a UUID)"))
                continue
            }
            ids.append(text.lowercased())
        }
        if !problems.isEmpty { throw .invalidParameters(problems) }
        return ids
    }

    private func value(_ sql: String, _ parameters: [String?]) throws(APIError) -> String? {
        do {
            let result = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute(sql, parameters, deadline: .now + control.timeout)
            }
            return result.rowCount > 0 ? result.value(0, 0) : nil
        } catch {
            throw APIError(
                .dbConnectionFailed, "the control database did not answer: \(DatabaseFailureText.forClients(error))")
        }
    }
}
