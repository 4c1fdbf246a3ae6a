import SPOCore
import SPOJSON
import SPOPostgres

/// Reads the live configuration from the control tables.
public enum ConfigurationStore {
    /// The `NOTIFY` channel the control tables' triggers signal on.
    public static let channel = "spo_config"

    /// Loads a complete snapshot. Rows that no longer parse (edited by hand) are skipped with a
    /// problem reported through `onProblem`, so one bad row never takes every service down.
    ///
    /// Every table is read in one `REPEATABLE READ READ ONLY` transaction, so a change committed
    /// while loading is either wholly in the snapshot or wholly out of it (a caller already in a
    /// transaction reads within its own).
    ///
    /// With `previous` (the snapshot being replaced), services whose rows did not change since
    /// it was read are taken from it as they are, and only the others are read and parsed: at
    /// 1,000 services a change to one reloads in a fraction of the time.
    public static func load(
        from connection: PGConnection, reusing previous: Configuration? = nil, onProblem: (String) -> Void = { _ in }
    ) throws(PGError) -> Configuration {
        guard connection.isHealthy else {
            return try read(from: connection, reusing: previous, onProblem: onProblem)
        }
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        do throws(PGError) {
            let configuration = try read(from: connection, reusing: previous, onProblem: onProblem)
            try connection.execute("COMMIT")
            return configuration
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// The generation of the configuration committed now: a snapshot of this generation is current.
    public static func generation(on connection: PGConnection) throws(PGError) -> Int64 {
        let result = try connection.executePrepared(
            "spo_configuration_generation", sql: "SELECT generation FROM spo.configuration_generation", [])
        return result.value(0, 0).flatMap { Int64($0) } ?? 0
    }

    private static func read(
        from connection: PGConnection, reusing previous: Configuration?, onProblem: (String) -> Void
    ) throws(PGError) -> Configuration {
        var configuration = Configuration(generation: try generation(on: connection))
        let connections = try connection.execute(
            """
            SELECT name, conninfo, password_from, description, \(BreakerStore.settingsColumns) FROM spo.connection
            """)
        for row in 0..<connections.rowCount {
            let name = connections.value(row, 0) ?? ""
            configuration.connections[name] = ConnectionDefinition(
                name: name, conninfo: connections.value(row, 1) ?? "", passwordFrom: connections.value(row, 2),
                description: connections.value(row, 3) ?? "", breaker: BreakerStore.settings(connections, row, from: 4))
        }
        let policies = try connection.execute(
            """
            SELECT name, max_attempts, initial_backoff_ms, multiplier, max_backoff_ms, jitter,
                   array_to_json(retryable_sqlstates)::text
            FROM spo.service_retry_policy
            """)
        for row in 0..<policies.rowCount {
            let name = policies.value(row, 0) ?? ""
            let states = (try? JSONValue.parse(policies.value(row, 6) ?? "[]"))?.arrayValue?.compactMap(\.stringValue)
            configuration.retryPolicies[name] = RetryPolicy(
                name: name, maxAttempts: Int(policies.value(row, 1) ?? "") ?? 1,
                initialBackoffMilliseconds: Int(policies.value(row, 2) ?? "") ?? 0,
                multiplier: Double(policies.value(row, 3) ?? "") ?? 1,
                maxBackoffMilliseconds: Int(policies.value(row, 4) ?? "") ?? 0,
                jitter: Double(policies.value(row, 5) ?? "") ?? 0, retryableSQLStates: states ?? [])
        }
        configuration.apiKeys = try APIKeyStore.active(on: connection)
        // Which rows changed since `previous`: each service's version is the transactions that
        // wrote its two rows (`xmin`), read in one light query; only those services are read in full.
        var changed: [String]? = nil
        if let previous {
            let versions = try connection.execute(Self.serviceVersionsSQL)
            changed = []
            for row in 0..<versions.rowCount {
                let name = versions.value(row, 1) ?? ""
                let version = versions.value(row, 2) ?? ""
                if previous.serviceRowVersions[name] == version, let kept = previous.services[name] {
                    configuration.services[name] = kept
                    configuration.serviceRowVersions[name] = version
                } else {
                    changed?.append(versions.value(row, 0) ?? "")
                }
            }
        }
        if changed?.isEmpty != true {
            let services = try connection.execute(
                Self.servicesSQL + (changed == nil ? "" : " WHERE s.id = ANY($1::bigint[])"),
                changed.map { ["{" + $0.joined(separator: ",") + "}"] } ?? [])
            for row in 0..<services.rowCount {
                let name = services.value(row, 1) ?? ""
                do {
                    configuration.services[name] = try service(services, row: row)
                    configuration.serviceRowVersions[name] = services.value(row, 22) ?? ""
                } catch {
                    onProblem("service \(name) skipped: \(error)")
                }
            }
        }
        return configuration
    }

    /// Every column a service is made from; column 22 is its rows' version.
    static let servicesSQL = """
        SELECT s.id, s.name, s.description, s.enabled, s.kind, s.connection, s.timeout_ms, s.retry_policy,
               s.version, c.procedure_schema, c.result_shape, c.parameters::text, c.procedure_name,
               c.procedure_argument_types, c.procedure_arguments::text, c.volatility, c.idempotent,
               c.error_statuses::text, c.idempotency, c.idempotency_ttl_s, s.composite::text, c.public,
               s.xmin::text || ':' || coalesce(c.xmin::text, '')
        FROM spo.service s LEFT JOIN spo.service_configuration c ON c.service_id = s.id
        """

    /// Each service's id, name and rows' version, as `servicesSQL` reads them.
    static let serviceVersionsSQL = """
        SELECT s.id, s.name, s.xmin::text || ':' || coalesce(c.xmin::text, '')
        FROM spo.service s LEFT JOIN spo.service_configuration c ON c.service_id = s.id
        """

    private static func service(_ result: PGResult, row: Int) throws -> ServiceDefinition {
        let name = result.value(row, 1) ?? ""
        if let composite = result.value(row, 20) { return try compositeService(result, row: row, composite) }
        let parametersJSON = try JSONValue.parse(result.value(row, 11) ?? "[]")
        let parameters = try (parametersJSON.arrayValue ?? []).enumerated().map { index, item in
            try ServiceDocument.parameter(from: item, path: "parameters[\(index)]")
        }
        let errorStatuses = try SQLStateStatusMap.read(JSONValue.parse(result.value(row, 17) ?? "{}")).get()
        // Identifiers as stored, never parsed from text again.
        let procedure = QualifiedName(schema: result.value(row, 9) ?? "", name: result.value(row, 12) ?? "")
        let arguments = try self.arguments(result.value(row, 14))
        guard !procedure.schema.isEmpty, !procedure.name.isEmpty, let arguments,
            let shape = ServiceDefinition.ResultShape(rawValue: result.value(row, 10) ?? ""),
            let kind = ServiceDefinition.Kind(rawValue: result.value(row, 4) ?? ""),
            let volatility = RoutineVolatility(rawValue: result.value(row, 15) ?? ""),
            let idempotency = IdempotencyMode(rawValue: result.value(row, 18) ?? "")
        else { throw ConfigurationError("service \(name)", "invalid procedure, arguments, result shape or kind") }
        let positional = CallRules.positionalProblems(
            parameters, arguments: arguments, signature: procedure.description)
        if !positional.isEmpty { throw ConfigurationError(problems: positional) }
        var service = ServiceDefinition(
            id: Int64(result.value(row, 0) ?? "") ?? 0, name: name, description: result.value(row, 2) ?? "",
            enabled: result.value(row, 3) == "t", kind: kind, connection: result.value(row, 5) ?? "",
            procedure: procedure, resultShape: shape, parameters: parameters,
            timeoutMilliseconds: Int(result.value(row, 6) ?? "") ?? 30_000, retryPolicy: result.value(row, 7),
            version: Int(result.value(row, 8) ?? "") ?? 1, arguments: arguments, argumentTypes: result.value(row, 13),
            volatility: volatility, idempotent: result.value(row, 16) == "t", errorStatuses: errorStatuses)
        service.idempotency = idempotency
        service.idempotencyTTLSeconds = Int(result.value(row, 19) ?? "") ?? IdempotencyMode.defaultTTLSeconds
        service.isPublic = result.value(row, 21) == "t"
        return service
    }

    /// The stored `procedure_arguments`: empty when NULL (a service written before they were
    /// recorded), nil when an element is not what the importer writes.
    private static func arguments(_ text: String?) throws -> [RoutineArgument]? {
        guard let text else { return [] }
        let items = try JSONValue.parse(text).arrayValue ?? []
        let arguments = items.compactMap(RoutineArgument.init(document:))
        return arguments.count == items.count ? arguments : nil
    }
}
