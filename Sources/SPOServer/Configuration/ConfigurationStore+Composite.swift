import SPOCore
import SPOJSON
import SPOPostgres

extension ConfigurationStore {
    /// A composite service's row: its `composite` column is the kind's part of its document
    /// (`parameters` and `members` or `steps`), read with the document's own rules.
    static func compositeService(_ result: PGResult, row: Int, _ composite: String) throws -> ServiceDefinition {
        let name = result.value(row, 1) ?? ""
        guard let kind = ServiceDefinition.Kind(rawValue: result.value(row, 4) ?? ""), kind != .procedure,
            case .object(var fields) = try JSONValue.parse(composite)
        else { throw ConfigurationError("service \(name)", "unknown composite kind") }
        fields += [
            .init("name", .string(name)), .init("kind", .string(kind.rawValue)),
            .init("timeout_ms", .number(Int(result.value(row, 6) ?? "") ?? 30_000)),
            .init("retry_policy", result.value(row, 7).map(JSONValue.string) ?? .null),
        ]
        let draft = try ServiceDocument.draft(from: .object(fields), path: "service \(name)")
        var service = ServiceDefinition(
            id: Int64(result.value(row, 0) ?? "") ?? 0, name: name, description: result.value(row, 2) ?? "",
            enabled: result.value(row, 3) == "t", kind: kind, connection: "",
            procedure: QualifiedName(schema: "", name: ""), resultShape: .scalar, parameters: draft.parameters ?? [],
            timeoutMilliseconds: draft.timeoutMilliseconds, retryPolicy: draft.retryPolicy,
            version: Int(result.value(row, 8) ?? "") ?? 1,
            idempotent: draft.idempotent)
        service.members = draft.members
        service.saga = draft.saga
        service.idempotency = draft.idempotency
        service.idempotencyTTLSeconds = draft.idempotencyTTLSeconds
        return service
    }

    /// What the `composite` column keeps of a parallel or saga draft (the columns of
    /// `spo.service` keep the rest).
    static func compositeDocument(_ draft: ServiceDocument.Draft) -> JSONValue {
        let parts: [JSONValue.Member] =
            if let saga = draft.saga {
                [.init("steps", saga.document)]
            } else {
                [.init("members", .array(draft.members.map(\.document))), .init("idempotent", .bool(draft.idempotent))]
            }
        return .object(
            [.init("parameters", .array((draft.parameters ?? []).map(ServiceDocument.document(for:))))] + parts + [
                .init("idempotency", .string(draft.idempotency.rawValue)),
                .init("idempotency_ttl_s", .number(draft.idempotencyTTLSeconds)),
            ])
    }
}
