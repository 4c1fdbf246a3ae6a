import SPOCore
import SPOJSON
import SPOPostgres

/// Writes configuration documents into the control tables: config as code.
///
/// A document is `{"connections": [...], "retry_policies": [...], "services": [...]}` (what
/// `export` writes), a single service document, or an array of them. Everything is checked first
/// (every service's routine is looked up in its target database); then all of it is written in one
/// transaction, so a bad document changes nothing.
public struct ConfigurationImporter {
    public struct Summary: Sendable, Equatable {
        public var connections: [String] = []
        public var retryPolicies: [String] = []
        public var services: [String] = []
    }

    let control: PGConnection
    private let targets: TargetConnections

    public init(control: PGConnection, targets: TargetConnections = TargetConnections()) {
        self.control = control
        self.targets = targets
    }

    public func importDocument(_ document: JSONValue) throws -> Summary {
        let (connections, policies, drafts) = try Self.split(document)
        var known = try ConfigurationStore.load(from: control)
        var problems: [(path: String, problem: String)] = []
        // Services already stored and not in the document must keep reaching their routines.
        let rewritten = Set(drafts.map(\.name))
        for (index, connection) in connections.enumerated() {
            problems += ConnectionChangeCheck.problems(
                storing: connection, in: known, targets: targets, excluding: rewritten,
                path: "connections[\(index)] (\(connection.name))")
        }
        for connection in connections { known.connections[connection.name] = connection }
        for policy in policies { known.retryPolicies[policy.name] = policy }
        var services: [(ServiceDocument.Draft, RoutineDescription, [ParameterSpec])] = []
        for (index, draft) in drafts.enumerated() where draft.kind == .procedure {
            switch Result(catching: { () throws(ConfigurationError) in try resolve(draft, in: known) }) {
            case .success(let service): services.append(service)
            case .failure(let error):
                problems += error.problems.map { ("services[\(index)] (\(draft.name)).\($0.path)", $0.problem) }
            }
        }
        let composites = drafts.enumerated().filter { $0.element.kind != .procedure }
        problems += Self.compositeProblems(composites, resolved: services, in: known)
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
        try write(connections, policies, services, composites.map(\.element))
        return Summary(
            connections: connections.map(\.name), retryPolicies: policies.map(\.name),
            services: services.map(\.0.name) + composites.map(\.element.name))
    }

    /// Checks a draft against the target database and settles its parameters.
    public func resolve(_ draft: ServiceDocument.Draft, in configuration: Configuration) throws(ConfigurationError)
        -> (ServiceDocument.Draft, RoutineDescription, [ParameterSpec])
    {
        guard let definition = configuration.connections[draft.connection] else {
            throw ConfigurationError("connection", "no connection named \(draft.connection)")
        }
        if let policy = draft.retryPolicy, configuration.retryPolicies[policy] == nil {
            throw ConfigurationError("retry_policy", "no retry policy named \(policy)")
        }
        let target: PGConnection
        do {
            target = try targets.connection(for: definition)
        } catch {
            throw ConfigurationError(
                "connection", "cannot reach \(draft.connection) to check the procedure: \(error.message)")
        }
        let routine = try RoutineCatalog.describe(draft.procedure, on: target)
        guard let configured = draft.parameters else {
            let problems = CallRules.problems(routine.parameters, calling: routine)
            if !problems.isEmpty { throw ConfigurationError(problems: problems) }
            return (draft, routine, routine.parameters)
        }
        var problems: [(path: String, problem: String)] = []
        let known = Dictionary(routine.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, parameter) in configured.enumerated() {
            guard let actual = known[parameter.name] else {
                problems.append(
                    (
                        "parameters[\(index)].name",
                        "\(routine.signature) has no parameter \(parameter.name); it has: "
                            + routine.parameters.map(\.name).joined(separator: ", ")
                    ))
                continue
            }
            if actual.direction != parameter.direction {
                problems.append(
                    ("parameters[\(index)].direction", "is \(actual.direction.rawValue) in \(routine.signature)"))
            }
            // Calls name the configured type in a cast; another type would match no routine at all.
            if actual.type.base != parameter.type.base || actual.type.isArray != parameter.type.isArray {
                problems.append(("parameters[\(index)].type", "is \(actual.type) in \(routine.signature)"))
            }
        }
        for parameter in routine.parameters where !configured.contains(where: { $0.name == parameter.name }) {
            if parameter.required {
                problems.append(
                    ("parameters", "\(parameter.name) has no default in \(routine.signature) and must be configured"))
            } else if parameter.direction == .out {
                // A CALL must name every OUT parameter (as a NULL placeholder).
                problems.append(
                    ("parameters", "\(parameter.name) is OUT in \(routine.signature) and must be configured"))
            }
        }
        if problems.isEmpty { problems = CallRules.problems(configured, calling: routine) }
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
        return (draft, routine, configured)
    }

    /// Checks one service against its target database, then writes it under `mode` in one
    /// statement (service and configuration rows together) and reads it back in the same
    /// transaction, so the answer is this write, not a later one. Throws `ConfigurationError`
    /// for a bad document, `WriteConflict` when `mode` refuses, `PGError` otherwise.
    public func write(_ draft: ServiceDocument.Draft, mode: WriteMode) throws -> ServiceDefinition {
        if draft.kind != .procedure { return try writeComposite(draft, mode: mode) }
        let resolved = try resolve(draft, in: try ConfigurationStore.load(from: control))
        try control.execute("BEGIN")
        do {
            try Self.write(resolved.0, routine: resolved.1, parameters: resolved.2, mode: mode, on: control)
            guard let stored = try ConfigurationStore.load(from: control).services[draft.name] else {
                throw PGError(kind: .server, sqlstate: "XX000", message: "service \(draft.name) cannot be read back")
            }
            try control.execute("COMMIT")
            return stored
        } catch {
            _ = try? control.execute("ROLLBACK")
            throw error
        }
    }

    static func split(_ document: JSONValue) throws(ConfigurationError)
        -> ([ConnectionDefinition], [RetryPolicy], [ServiceDocument.Draft])
    {
        var problems: [(path: String, problem: String)] = []
        func collect<T>(
            _ items: [JSONValue]?, _ key: String, _ read: (JSONValue, String) throws(ConfigurationError) -> T
        ) -> [T] {
            (items ?? []).enumerated().compactMap { index, item in
                do throws(ConfigurationError) { return try read(item, "\(key)[\(index)]") } catch {
                    problems += error.problems
                    return nil
                }
            }
        }
        let connections: [ConnectionDefinition]
        let policies: [RetryPolicy]
        let services: [ServiceDocument.Draft]
        switch document {
        case .array(let items):
            connections = []
            policies = []
            services = collect(items, "services") { item, path throws(ConfigurationError) in
                try ServiceDocument.draft(from: item, path: path)
            }
        case .object
        where document["services"] != nil || document["connections"] != nil || document["retry_policies"] != nil:
            connections = collect(document["connections"]?.arrayValue, "connections") {
                item, path throws(ConfigurationError) in
                try ServiceDocument.connection(from: item, path: path)
            }
            policies = collect(document["retry_policies"]?.arrayValue, "retry_policies") {
                item, path throws(ConfigurationError) in
                try ServiceDocument.retryPolicy(from: item, path: path)
            }
            services = collect(document["services"]?.arrayValue, "services") { item, path throws(ConfigurationError) in
                try ServiceDocument.draft(from: item, path: path)
            }
        case .object:
            connections = []
            policies = []
            services = collect([document], "service") { item, _ throws(ConfigurationError) in
                try ServiceDocument.draft(from: item)
            }
        default:
            throw ConfigurationError(
                "document", "must be a service document, an array of them, or {connections, retry_policies, services}")
        }
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
        return (connections, policies, services)
    }

    private func write(
        _ connections: [ConnectionDefinition], _ policies: [RetryPolicy],
        _ services: [(ServiceDocument.Draft, RoutineDescription, [ParameterSpec])],
        _ composites: [ServiceDocument.Draft] = []
    ) throws(PGError) {
        try control.execute("BEGIN")
        do throws(PGError) {
            for connection in connections { try Self.upsert(connection, on: control) }
            for policy in policies { try Self.upsert(policy, on: control) }
            for (draft, routine, parameters) in services {
                try Self.upsert(draft, routine: routine, parameters: parameters, on: control)
            }
            for draft in composites { try Self.upsertComposite(draft, on: control) }
            try control.execute("COMMIT")
        } catch {
            _ = try? control.execute("ROLLBACK")
            throw error
        }
    }

    public static func upsert(_ connection: ConnectionDefinition, on control: PGConnection) throws(PGError) {
        try control.execute(
            """
            INSERT INTO spo.connection (name, conninfo, password_from, description, \(BreakerStore.settingsColumns))
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (name) DO UPDATE SET conninfo = EXCLUDED.conninfo, password_from = EXCLUDED.password_from,
                description = EXCLUDED.description, \(BreakerStore.settingsUpdate), updated_at = now()
            """, connectionValues(connection))
    }

    /// Inserts a new connection; `WriteConflict.exists` when the name is taken.
    public static func insert(_ connection: ConnectionDefinition, on control: PGConnection) throws {
        try refusingDuplicate("connection", connection.name) { () throws(PGError) in
            try control.execute(
                """
                INSERT INTO spo.connection (name, conninfo, password_from, description, \(BreakerStore.settingsColumns))
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """, connectionValues(connection))
        }
    }

    private static func connectionValues(_ connection: ConnectionDefinition) -> [String?] {
        [connection.name, connection.conninfo, connection.passwordFrom, connection.description]
            + BreakerStore.values(connection.breaker)
    }

    public static func upsert(_ policy: RetryPolicy, on control: PGConnection) throws(PGError) {
        try control.execute(
            policyInsert + """
                ON CONFLICT (name) DO UPDATE SET max_attempts = EXCLUDED.max_attempts,
                    initial_backoff_ms = EXCLUDED.initial_backoff_ms, multiplier = EXCLUDED.multiplier,
                    max_backoff_ms = EXCLUDED.max_backoff_ms, jitter = EXCLUDED.jitter,
                    retryable_sqlstates = EXCLUDED.retryable_sqlstates, updated_at = now()
                """, values(policy))
    }

    /// Inserts a new retry policy; `WriteConflict.exists` when the name is taken.
    public static func insert(_ policy: RetryPolicy, on control: PGConnection) throws {
        try refusingDuplicate("retry policy", policy.name) { () throws(PGError) in
            try control.execute(policyInsert, values(policy))
        }
    }

    private static let policyInsert = """
        INSERT INTO spo.service_retry_policy (name, max_attempts, initial_backoff_ms, multiplier, max_backoff_ms,
            jitter, retryable_sqlstates) VALUES ($1, $2, $3, $4, $5, $6, $7)

        """

    private static func values(_ policy: RetryPolicy) -> [String?] {
        [
            policy.name, String(policy.maxAttempts), String(policy.initialBackoffMilliseconds),
            String(policy.multiplier), String(policy.maxBackoffMilliseconds), String(policy.jitter),
            "{" + policy.retryableSQLStates.joined(separator: ",") + "}",
        ]
    }

    /// Runs an insert; a unique violation (another writer has the name, committed or about to be)
    /// becomes `WriteConflict.exists`.
    private static func refusingDuplicate(_ kind: String, _ name: String, _ insert: () throws(PGError) -> Void) throws {
        do throws(PGError) {
            try insert()
        } catch  where error.sqlstate == "23505" {
            throw WriteConflict.exists(kind: kind, name: name)
        }
    }

    public static func upsert(
        _ draft: ServiceDocument.Draft, routine: RoutineDescription, parameters: [ParameterSpec],
        on control: PGConnection
    ) throws(PGError) {
        try control.execute(
            """
            WITH s AS (
                INSERT INTO spo.service (name, description, enabled, kind, connection, timeout_ms, retry_policy)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, enabled = EXCLUDED.enabled,
                    kind = EXCLUDED.kind, connection = EXCLUDED.connection, timeout_ms = EXCLUDED.timeout_ms,
                    retry_policy = EXCLUDED.retry_policy, composite = NULL
                RETURNING id)
            """ + configurationWrite, values(draft, routine, parameters))
    }

    /// Writes a checked service under `mode`: one statement for both rows.
    static func write(
        _ draft: ServiceDocument.Draft, routine: RoutineDescription, parameters: [ParameterSpec], mode: WriteMode,
        on control: PGConnection
    ) throws {
        switch mode {
        case .upsert:
            try upsert(draft, routine: routine, parameters: parameters, on: control)
        case .create:
            try refusingDuplicate("service", draft.name) { () throws(PGError) in
                try control.execute(
                    """
                    WITH s AS (
                        INSERT INTO spo.service (name, description, enabled, kind, connection, timeout_ms, retry_policy)
                        VALUES ($1, $2, $3, $4, $5, $6, $7)
                        RETURNING id)
                    """ + configurationWrite, values(draft, routine, parameters))
            }
        case .replace(let version):
            // Of two writers that read the same version, the second waits for the first's row lock,
            // then finds the version moved on (PostgreSQL re-checks the WHERE on the new row).
            let written = try control.execute(
                """
                WITH s AS (
                    UPDATE spo.service SET description = $2, enabled = $3, kind = $4, connection = $5,
                        timeout_ms = $6, retry_policy = $7, composite = NULL
                    WHERE name = $1 AND version = $21
                    RETURNING id)
                """ + configurationWrite, values(draft, routine, parameters) + [String(version)])
            if written.affectedRows == 0 {
                let current = try control.execute("SELECT version FROM spo.service WHERE name = $1", [draft.name])
                guard current.rowCount > 0, let now = current.value(0, 0).flatMap(Int.init) else {
                    throw WriteConflict.missing(name: draft.name)
                }
                throw WriteConflict.changed(name: draft.name, expected: version, current: now)
            }
        }
    }

    /// The configuration row of the service row `s` a statement wrote.
    private static let configurationWrite = """

        INSERT INTO spo.service_configuration (service_id, procedure, result_shape, parameters, error_statuses,
            procedure_schema, procedure_name, procedure_argument_types, procedure_arguments, volatility, idempotent,
            idempotency, idempotency_ttl_s, public)
        SELECT id, $8, $9, $10::jsonb, $11::jsonb, $12, $13, $14, $15::jsonb, $16, $17, $18, $19::int, $20 FROM s
        ON CONFLICT (service_id) DO UPDATE SET procedure = EXCLUDED.procedure,
            result_shape = EXCLUDED.result_shape, parameters = EXCLUDED.parameters,
            error_statuses = EXCLUDED.error_statuses,
            procedure_schema = EXCLUDED.procedure_schema, procedure_name = EXCLUDED.procedure_name,
            procedure_argument_types = EXCLUDED.procedure_argument_types,
            procedure_arguments = EXCLUDED.procedure_arguments, volatility = EXCLUDED.volatility,
            idempotent = EXCLUDED.idempotent, idempotency = EXCLUDED.idempotency,
            idempotency_ttl_s = EXCLUDED.idempotency_ttl_s, public = EXCLUDED.public, updated_at = now()
        """

    private static func values(
        _ draft: ServiceDocument.Draft, _ routine: RoutineDescription, _ parameters: [ParameterSpec]
    ) -> [String?] {
        [
            draft.name, draft.description, draft.enabled ? "true" : "false", draft.kind.rawValue, draft.connection,
            String(draft.timeoutMilliseconds), draft.retryPolicy, routine.reference,
            routine.resultShape.rawValue,
            JSONValue.array(parameters.map(ServiceDocument.document(for:))).serialized(),
            draft.errorStatuses.document.serialized(),
            routine.name.schema, routine.name.name, routine.argumentTypes,
            JSONValue.array(routine.arguments.map(\.document)).serialized(), routine.volatility.rawValue,
            draft.idempotent ? "true" : "false", draft.idempotency.rawValue, String(draft.idempotencyTTLSeconds),
            draft.isPublic ? "true" : "false",
        ]
    }

    /// The whole configuration as one document, sorted by name (stable diffs in version control).
    public static func export(_ configuration: Configuration) -> JSONValue {
        .object([
            "connections": .array(
                configuration.connections.values.sorted { $0.name < $1.name }.map(ServiceDocument.document(for:))),
            "retry_policies": .array(
                configuration.retryPolicies.values.sorted { $0.name < $1.name }.map(ServiceDocument.document(for:))),
            "services": .array(
                configuration.services.values.sorted { $0.name < $1.name }.map(ServiceDocument.document(for:))),
        ])
    }
}
