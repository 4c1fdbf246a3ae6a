import SPOJSON

extension OpenAPIDocument {
    /// A parallel service's answer: `data` with one property per member (that member's data
    /// schema, or null when an optional member failed) and `meta.members`.
    static func parallelSchemas(_ service: ServiceDefinition, _ services: [ServiceDefinition])
        -> (data: JSONValue, meta: JSONValue, explanation: String)
    {
        let known = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let data: JSONValue = .object([
            "type": .string("object"),
            "required": .array(service.members.map { .string($0.name) }),
            "properties": .object(
                service.members.map { member in
                    let schema = known[member.service].map(ResultSchema.data) ?? .object([:])
                    return .init(
                        member.name,
                        member.required
                            ? schema : .object(["nullable": .bool(true), "allOf": .array([schema])]))
                }),
        ])
        let memberMeta: JSONValue = .object([
            "type": .string("object"),
            "required": .array(["status", "duration_ms", "execution_id"].map(JSONValue.string)),
            "properties": .object([
                "status": .object([
                    "type": .string("string"),
                    "enum": .array(ExecutionStatus.allCases.map { .string($0.rawValue) }),
                ]),
                "duration_ms": .object(["type": .string("number"), "minimum": .number(0)]),
                "execution_id": .object(["type": .string("string"), "format": .string("uuid")]),
                "error": .object([
                    "type": .string("object"),
                    "properties": .object([
                        "code": .object(["type": .string("string")]), "message": .object(["type": .string("string")]),
                    ]),
                ]),
            ]),
        ])
        let meta: JSONValue = .object([
            "type": .string("object"), "required": .array([.string("members"), .string("partial")]),
            "properties": .object([
                "members": .object([
                    "type": .string("object"),
                    "properties": .object(service.members.map { .init($0.name, memberMeta) }),
                ]),
                "partial": .object([
                    "type": .string("boolean"), "description": .string("An optional member failed: its data is null"),
                ]),
            ]),
        ])
        let required = service.members.filter(\.required).map(\.name)
        let explanation =
            "Runs \(service.members.map { "\($0.name) (\($0.service))" }.joined(separator: ", ")) at the same time; "
            + "data has each member's data by member name. "
            + (required.isEmpty
                ? "Every member is optional: one that fails is null in data and named in meta.members."
                : "A failure of \(required.joined(separator: ", ")) fails the call with its error; an optional member "
                    + "that fails is null in data and named in meta.members (meta.partial).")
        return (data, meta, explanation)
    }
}
