import SPOCore
import SPOJSON
import SPOPostgres

extension ConfigurationImporter {
    /// Checks a composite service (parallel, saga) against the stored configuration, then writes
    /// it under `mode` and reads it back in the same transaction (like a procedure service's write).
    func writeComposite(_ draft: ServiceDocument.Draft, mode: WriteMode) throws -> ServiceDefinition {
        let known = try ConfigurationStore.load(from: control)
        let problems = Self.rules(draft, in: known)
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
        try control.execute("BEGIN")
        do {
            try Self.writeComposite(draft, mode: mode, on: control)
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

    /// A composite's write-time problems against `configuration`: its members' or steps' services
    /// (`ParallelRules`, `SagaRules`) and a saga's retry policy.
    static func rules(_ draft: ServiceDocument.Draft, in configuration: Configuration) -> [(
        path: String, problem: String
    )] {
        guard let saga = draft.saga else {
            return ParallelRules.problems(members: draft.members, input: draft.parameters ?? [], in: configuration)
        }
        var problems = SagaRules.problems(saga) { configuration.services[$0] }
        if let policy = draft.retryPolicy, configuration.retryPolicies[policy] == nil {
            problems.insert(("service.retry_policy", "no retry policy named \(policy)"), at: 0)
        }
        return problems
    }

    /// The problems of the composite services of one imported document, checked against the
    /// stored configuration with the document's own services (`resolved`) in it.
    static func compositeProblems(
        _ composites: [(offset: Int, element: ServiceDocument.Draft)],
        resolved: [(ServiceDocument.Draft, RoutineDescription, [ParameterSpec])], in known: Configuration
    ) -> [(path: String, problem: String)] {
        var configuration = known
        for (draft, routine, parameters) in resolved {
            configuration.services[draft.name] = ServiceDefinition(
                name: draft.name, connection: draft.connection, procedure: routine.name,
                resultShape: routine.resultShape, parameters: parameters)
        }
        for (_, draft) in composites {
            configuration.services[draft.name] = ServiceDefinition(
                name: draft.name, kind: draft.kind, connection: "", procedure: QualifiedName(schema: "", name: ""),
                resultShape: .scalar, parameters: draft.parameters ?? [])
        }
        return composites.flatMap { index, draft in
            rules(draft, in: configuration).map {
                ("services[\(index)] (\(draft.name)).\($0.path)", $0.problem)
            }
        }
    }

    /// Writes a checked composite service under `mode` (a service row with its `composite`
    /// document; no configuration row, which a former procedure service's is deleted with).
    static func writeComposite(_ draft: ServiceDocument.Draft, mode: WriteMode, on control: PGConnection) throws {
        let values = compositeValues(draft)
        switch mode {
        case .upsert:
            try upsertComposite(draft, on: control)
        case .create:
            let inserted = Result { () throws(PGError) in
                try control.execute(
                    """
                    INSERT INTO spo.service (name, description, enabled, kind, connection, timeout_ms, composite,
                        retry_policy)
                    VALUES ($1, $2, $3, $4, NULL, $5, $6::jsonb, $7)
                    """, values)
            }
            if case .failure(let error) = inserted {
                if error.sqlstate == "23505" { throw WriteConflict.exists(kind: "service", name: draft.name) }
                throw error
            }
        case .replace(let version):
            let written = try control.execute(
                """
                WITH s AS (
                    UPDATE spo.service SET description = $2, enabled = $3, kind = $4, connection = NULL,
                        timeout_ms = $5, retry_policy = $7, composite = $6::jsonb
                    WHERE name = $1 AND version = $8
                    RETURNING id)
                """ + dropConfiguration, values + [String(version)])
            if written.rowCount == 0 {
                let current = try control.execute("SELECT version FROM spo.service WHERE name = $1", [draft.name])
                guard current.rowCount > 0, let now = current.value(0, 0).flatMap(Int.init) else {
                    throw WriteConflict.missing(name: draft.name)
                }
                throw WriteConflict.changed(name: draft.name, expected: version, current: now)
            }
        }
    }

    /// Inserts or replaces a checked composite service (the import's last-write-wins).
    static func upsertComposite(_ draft: ServiceDocument.Draft, on control: PGConnection) throws(PGError) {
        let values = compositeValues(draft)
        try control.execute(
            """
            WITH s AS (
                INSERT INTO spo.service (name, description, enabled, kind, connection, timeout_ms, composite,
                    retry_policy)
                VALUES ($1, $2, $3, $4, NULL, $5, $6::jsonb, $7)
                ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, enabled = EXCLUDED.enabled,
                    kind = EXCLUDED.kind, connection = NULL, timeout_ms = EXCLUDED.timeout_ms,
                    retry_policy = EXCLUDED.retry_policy, composite = EXCLUDED.composite
                RETURNING id)
            """ + dropConfiguration, values)
    }

    private static func compositeValues(_ draft: ServiceDocument.Draft) -> [String?] {
        [
            draft.name, draft.description, draft.enabled ? "true" : "false", draft.kind.rawValue,
            String(draft.timeoutMilliseconds), ConfigurationStore.compositeDocument(draft).serialized(),
            // Only a saga retries (its compensations); a parallel service's members have their own.
            draft.saga == nil ? nil : draft.retryPolicy,
        ]
    }

    private static let dropConfiguration =
        ", d AS (DELETE FROM spo.service_configuration WHERE service_id IN (SELECT id FROM s)) SELECT id FROM s"
}
