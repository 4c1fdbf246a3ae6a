import SPOJSON
import SPOPostgres

/// Changing configuration over HTTP, in the service-document format of `spo services import`
/// (and through the same checks: a service's routine is looked up in its target database). Every
/// change is one transaction and reaches every worker through the configuration notification.
struct AdminWrites {
    let control: ControlDatabase
    let targets: TargetConnections

    /// Status and body (nil for 204) of a POST, PUT or DELETE on `resource`.
    func respond(to resource: AdminRoute, method: String, body: JSONValue) throws(APIError) -> (Int, JSONValue?) {
        switch (resource, method) {
        case (.services, "POST"):
            let name = try requiredName(body)
            if try exists("spo.service", name) { throw APIError(.conflict, "a service named \(name) exists; use PUT") }
            return (201, try importService(body, name: name))
        case (.service(let name), "PUT"):
            try checkVersion(body, of: name)
            return (200, try importService(try named(body, name), name: name))
        case (.connections, "POST"):
            let connection = try read { () throws(ConfigurationError) in
                try ServiceDocument.connection(from: body, path: "connection")
            }
            if try exists("spo.connection", connection.name) {
                throw APIError(.conflict, "a connection named \(connection.name) exists; use PUT")
            }
            try write { control throws(PGError) in try ConfigurationImporter.upsert(connection, on: control) }
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
            try write { control throws(PGError) in try ConfigurationImporter.upsert(connection, on: control) }
            return (200, ServiceDocument.document(for: connection))
        case (.retryPolicies, "POST"), (.retryPolicy, "PUT"):
            let document: JSONValue
            if case .retryPolicy(let name) = resource { document = try named(body, name) } else { document = body }
            let policy = try read { () throws(ConfigurationError) in
                try ServiceDocument.retryPolicy(from: document, path: "retry_policy")
            }
            if method == "POST", try exists("spo.service_retry_policy", policy.name) {
                throw APIError(.conflict, "a retry policy named \(policy.name) exists; use PUT")
            }
            try write { control throws(PGError) in try ConfigurationImporter.upsert(policy, on: control) }
            return (method == "POST" ? 201 : 200, ServiceDocument.document(for: policy))
        case (.service(let name), "DELETE"):
            try delete("spo.service", name, what: "service")
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

    private func importService(_ document: JSONValue, name: String) throws(APIError) -> JSONValue {
        do {
            let connection = try control.open()
            _ = try ConfigurationImporter(control: connection, targets: targets).importDocument(document)
            guard let service = try ConfigurationStore.load(from: connection).services[name] else {
                throw APIError(.internalError, "service \(name) was written but cannot be read back")
            }
            return AdminAPI.document(for: service)
        } catch let error as ConfigurationError {
            throw Self.invalid(error)
        } catch let error as PGError {
            throw Self.unavailable(error)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.internalError, "\(error)")
        }
    }

    /// Optimistic concurrency: a document that carries the `version` it was read at replaces the
    /// service only if nobody changed it since (409 otherwise); without `version`, last write wins.
    private func checkVersion(_ body: JSONValue, of name: String) throws(APIError) {
        guard let expected = body["version"] else { return }
        guard let expectedVersion = expected.intValue else {
            throw .invalidParameters([ParameterProblem(parameter: "version", problem: "must be an integer")])
        }
        let current: String?
        do throws(PGError) {
            current = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute("SELECT version FROM spo.service WHERE name = $1", [name]).value(0, 0)
            }
        } catch {
            throw Self.unavailable(error)
        }
        if let current, current != String(expectedVersion) {
            throw APIError(
                .conflict,
                "the service \(name) changed since version \(expectedVersion) (now \(current)); read it again")
        }
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

    private func write(_ body: (PGConnection) throws(PGError) -> Void) throws(APIError) {
        do throws(PGError) { try control.withConnection(body) } catch { throw Self.unavailable(error) }
    }

    private func exists(_ table: String, _ name: String) throws(APIError) -> Bool {
        do throws(PGError) {
            return try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute("SELECT 1 FROM \(table) WHERE name = $1", [name]).rowCount > 0
            }
        } catch {
            throw Self.unavailable(error)
        }
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

    static func invalid(_ error: ConfigurationError) -> APIError {
        .invalidParameters(error.problems.map { ParameterProblem(parameter: $0.path, problem: $0.problem) })
    }

    static func unavailable(_ error: PGError) -> APIError {
        APIError(.dbConnectionFailed, "the control database did not answer: \(error.message)", sqlstate: error.sqlstate)
    }
}
