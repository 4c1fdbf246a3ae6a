import SPOJSON

extension OpenAPIDocument.Components {
    /// The answer of `GET /api/stats`.
    static let stats: JSONValue = {
        func typed(_ type: String, _ description: String? = nil, nullable: Bool = false) -> JSONValue {
            var members: [JSONValue.Member] = [.init("type", .string(type))]
            if let description { members.append(.init("description", .string(description))) }
            if nullable { members.append(.init("nullable", .bool(true))) }
            return .object(members)
        }
        func object(_ properties: [JSONValue.Member], description: String? = nil) -> JSONValue {
            var members: [JSONValue.Member] = [
                .init("type", .string("object")),
                .init("required", .array(properties.map { .string($0.key) })),
            ]
            if let description { members.append(.init("description", .string(description))) }
            members.append(.init("properties", .object(properties)))
            return .object(members)
        }
        func array(_ items: JSONValue) -> JSONValue { .object(["type": .string("array"), "items": items]) }
        let counts: JSONValue = .object([
            "type": .string("object"), "additionalProperties": typed("integer"),
            "description": .string("Requests by HTTP status (\"other\" beyond 16 statuses per worker)"),
        ])
        let service = object([
            .init("name", typed("string", "The service, _unknown (no enabled service named) or _other (past the cap)")),
            .init("requests", typed("integer")), .init("statuses", counts),
            .init("server_errors", typed("integer", "Requests answered 500 or more")),
            .init("attempts", typed("integer")), .init("retries", typed("integer")), .init("replays", typed("integer")),
            .init("duration_seconds_sum", typed("number")),
            .init(
                "duration_buckets",
                array(
                    object([
                        .init("le", typed("number", "Upper bound in seconds; null for +Inf", nullable: true)),
                        .init("count", typed("integer", "Requests at most that long (cumulative)")),
                    ]))),
        ])
        let slot = object([
            .init("slot", typed("integer")), .init("worker", typed("string", "The upstream line")),
            .init("pid", typed("integer", "Null while no worker runs in the slot", nullable: true)),
            .init("busy", typed("boolean")), .init("requests", typed("integer", "Requests of any endpoint")),
            .init("restarts", typed("integer")), .init("crash_looping", typed("boolean")),
            .init("retired", typed("boolean")),
        ])
        let family = object([
            .init("name", typed("string")), .init("type", typed("string")), .init("help", typed("string")),
            .init(
                "samples",
                array(
                    object([
                        .init(
                            "labels",
                            .object(["type": .string("object"), "additionalProperties": typed("string")])),
                        .init("value", typed("number")),
                    ]))),
        ])
        return object(
            [
                .init("requests", typed("integer", "Execution requests, every service")),
                .init("services", array(service)),
                .init(
                    "workers",
                    object([
                        .init("busy", typed("integer")), .init("idle", typed("integer")), .init("slots", array(slot)),
                    ])),
                .init("extra", array(family)),
            ], description: "The pool's counters since it started")
    }()
}
