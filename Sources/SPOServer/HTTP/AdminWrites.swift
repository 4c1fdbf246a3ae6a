import SPOCore
import SPOJSON
import SPOPostgres

/// Changing configuration over HTTP, in the service-document format of `spo services import`
/// (and through the same checks: a service's routine is looked up in its target database). Every
/// change is one transaction and reaches every worker through the configuration notification.
struct AdminWrites {
    let control: ControlDatabase
    let targets: TargetConnections

    /// Status and body (nil for 204) of a POST, PUT or DELETE on `resource`.
    ///
    /// POST is a plain insert (409 when the name is taken, however close the other writer came);
    /// PUT replaces, or creates what is missing, and a service document that carries its `version`
    /// replaces only that version (409 when it moved on, 404 when the service is gone). Connections
    /// and retry policies have no version: a PUT of one is last-write-wins.
    func respond(to resource: AdminRoute, method: String, body: JSONValue) throws(APIError) -> (Int, JSONValue?) {
        switch (resource, method) {
        case (.services, "POST"):
            _ = try requiredName(body)
            return (201, try writeService(body, mode: .create))
        case (.service(let name), "PUT"):
            return (200, try writeService(try named(body, name), mode: try putMode(body)))
        case (.connections, "POST"):
            let connection = try read { () throws(ConfigurationError) in
                try ServiceDocument.connection(from: body, path: "connection")
            }
            try write { control in try ConfigurationImporter.insert(connection, on: control) }
            return (201, ServiceDocument.document(for: connection))
        default:
            return try respondToEntry(resource, method, body)
        }
    }

    private func respondToEntry(_ resource: AdminRoute, _ method: String, _ body: JSONValue) throws(APIError) -> (
        Int, JSONValue?
    ) {
        switch (resource, method) {
        case (.connection(let name), "PUT"):
            let document = try named(body, name)
            let connection = try read { () throws(ConfigurationError) in
                try ServiceDocument.connection(from: document, path: "connection")
            }
            try write { control in try ConfigurationImporter.upsert(connection, on: control) }
            return (200, ServiceDocument.document(for: connection))
        case (.retryPolicies, "POST"), (.retryPolicy, "PUT"):
            let document: JSONValue
            if case .retryPolicy(let name) = resource { document = try named(body, name) } else { document = body }
            let policy = try read { () throws(ConfigurationError) in
                try ServiceDocument.retryPolicy(from: document, path: "retry_policy")
            }
            if method == "POST" {
                try write { control in try ConfigurationImporter.insert(policy, on: control) }
            } else {
                try write { control in try ConfigurationImporter.upsert(policy, on: control) }
            }
            return (method == "POST" ? 201 : 200, ServiceDocument.document(for: policy))
        case (.service(let name), "DELETE"):
            try deleteService(name)
            return (204, nil)
        case (.connection(let name), "DELETE"):
            try delete("spo.connection", name, what: "connection")
            return (204, nil)
        case (.retryPolicy(let name), "DELETE"):
            try delete("spo.service_retry_policy", name, what: "retry policy")
            return (204, nil)
        default:
            // The endpoint table sends only its declared methods here.
            throw APIError(.internalError, "no handler for \(method) on \(resource)")
        }
    }

    // MARK: - Steps

    private func writeService(_ document: JSONValue, mode: WriteMode) throws(APIError) -> JSONValue {
        let draft = try read { () throws(ConfigurationError) in try ServiceDocument.draft(from: document) }
        let stored = try write { control in
            try ConfigurationImporter(control: control, targets: targets).write(draft, mode: mode)
        }
        return AdminAPI.document(for: stored)
    }

    /// Optimistic concurrency: a document that carries the `version` it was read at replaces that
    /// version only; without `version`, last write wins.
    private func putMode(_ body: JSONValue) throws(APIError) -> WriteMode {
        guard let given = body["version"] else { return .upsert }
        guard let version = given.intValue else {
            throw .invalidParameters([ParameterProblem(parameter: "version", problem: "must be an integer")])
        }
        return .replace(version: version)
    }

    private func requiredName(_ body: JSONValue) throws(APIError) -> String {
        guard let name = body["name"]?.stringValue, !name.isEmpty else {
            throw .invalidParameters([ParameterProblem(parameter: "name", problem: "is required")])
        }
        return name
    }

    /// The document with the name of the URL; a different name in the body is refused.
    private func named(_ body: JSONValue, _ name: String) throws(APIError) -> JSONValue {
        guard case .object(var members) = body else {
            throw .invalidParameters([ParameterProblem(parameter: nil, problem: "the body must be a JSON object")])
        }
        if let given = body["name"] {
            guard given == .string(name) else {
                throw .invalidParameters([
                    ParameterProblem(parameter: "name", problem: "differs from the URL; renaming is not supported")
                ])
            }
        } else {
            members.insert(.init("name", .string(name)), at: 0)
        }
        return .object(members)
    }

    private func read<T>(_ body: () throws(ConfigurationError) -> T) throws(APIError) -> T {
        do throws(ConfigurationError) { return try body() } catch { throw Self.invalid(error) }
    }

    /// Runs `body` on the control connection, once more on a fresh one when the connection broke
    /// (PostgreSQL restarted since the last write).
    private func write<T>(_ body: (PGConnection) throws -> T) throws(APIError) -> T {
        do {
            do {
                return try body(try control.open())
            } catch let error as PGError where error.kind == .connection {
                return try body(try control.open())
            }
        } catch {
            throw Self.refusal(error)
        }
    }

    /// Deletes a service unless a composite service uses it (409 naming the composites).
    private func deleteService(_ name: String) throws(APIError) {
        let result: PGResult
        do throws(PGError) {
            result = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute(
                    """
                    WITH users AS (
                        SELECT string_agg(s.name, ', ' ORDER BY s.name) AS names
                        FROM spo.service s JOIN spo.service_configuration c ON c.service_id = s.id
                        WHERE c.composite IS NOT NULL AND jsonb_path_exists(c.composite,
                            '$[*] ? (@.service == $n || @.compensation.service == $n)', jsonb_build_object('n', $1::text))),
                    deleted AS (DELETE FROM spo.service WHERE name = $1 AND (SELECT names FROM users) IS NULL RETURNING 1)
                    SELECT (SELECT count(*) FROM deleted), (SELECT names FROM users)
                    """, [name])
            }
        } catch {
            throw Self.unavailable(error)
        }
        if let users = result.value(0, 1) {
            throw APIError(
                .conflict,
                "the service \(name) is used by the composite service(s) \(users); change or delete them first")
        }
        if result.value(0, 0) == "0" { throw APIError(.notFound, "no service named \(name)") }
    }

    private func delete(_ table: String, _ name: String, what: String) throws(APIError) {
        let deleted: Int
        do throws(PGError) {
            deleted = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute("DELETE FROM \(table) WHERE name = $1", [name]).affectedRows
            }
        } catch  where error.sqlstate == "23503" {
            throw APIError(.conflict, "the \(what) \(name) is in use by services; change or delete them first")
        } catch {
            throw Self.unavailable(error)
        }
        if deleted == 0 { throw APIError(.notFound, "no \(what) named \(name)") }
    }

    /// What the client sees of a failed write.
    static func refusal(_ error: any Error) -> APIError {
        switch error {
        case let error as ConfigurationError: invalid(error)
        case WriteConflict.missing(let name): APIError(.serviceNotFound, WriteConflict.missing(name: name).description)
        case let error as WriteConflict: APIError(.conflict, error.description)
        case let error as PGError: unavailable(error)
        case let error as APIError: error
        default: APIError(.internalError, "\(error)")
        }
    }

    static func invalid(_ error: ConfigurationError) -> APIError {
        .invalidParameters(error.problems.map { ParameterProblem(parameter: $0.path, problem: $0.problem) })
    }

    static func unavailable(_ error: PGError) -> APIError {
        APIError(.dbConnectionFailed, "the control database did not answer: \(error.message)", sqlstate: error.sqlstate)
    }
}
