import SPOJSON

extension ServiceDocument {
    /// A parallel service's document: no connection, routine or result shape; its members.
    static func parallelDocument(for service: ServiceDefinition) -> JSONValue {
        .object([
            .init("name", .string(service.name)), .init("description", .string(service.description)),
            .init("kind", .string(service.kind.rawValue)),
            .init("parameters", .array(service.parameters.map(document(for:)))),
            .init("members", .array(service.members.map(\.document))),
            .init("timeout_ms", .number(service.timeoutMilliseconds)), .init("enabled", .bool(service.enabled)),
            .init("idempotent", .bool(service.idempotent)),
            .init("idempotency", .string(service.idempotency.rawValue)),
            .init("idempotency_ttl_s", .number(service.idempotencyTTLSeconds)),
        ])
    }
}
