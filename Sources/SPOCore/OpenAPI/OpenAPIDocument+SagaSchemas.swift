import SPOJSON

extension OpenAPIDocument.Components {
    /// The saga log's schemas (`GET /api/sagas`, `GET /api/sagas/{id}`), merged into
    /// `#/components/schemas`.
    static let sagaSchemas: [JSONValue.Member] = {
        func typed(_ type: String, _ description: String? = nil, format: String? = nil, nullable: Bool = false)
            -> JSONValue
        {
            var members: [JSONValue.Member] = [.init("type", .string(type))]
            if let format { members.append(.init("format", .string(format))) }
            if let description { members.append(.init("description", .string(description))) }
            if nullable { members.append(.init("nullable", .bool(true))) }
            return .object(members)
        }
        func object(_ properties: [JSONValue.Member], nullable: Bool = false, description: String? = nil) -> JSONValue {
            var members: [JSONValue.Member] = [
                .init("type", .string("object")), .init("required", .array(properties.map { .string($0.key) })),
            ]
            if nullable { members.append(.init("nullable", .bool(true))) }
            if let description { members.append(.init("description", .string(description))) }
            members.append(.init("properties", .object(properties)))
            return .object(members)
        }
        func array(_ items: JSONValue) -> JSONValue { .object(["type": .string("array"), "items": items]) }
        func states(_ values: [String]) -> JSONValue {
            .object(["type": .string("string"), "enum": .array(values.map(JSONValue.string))])
        }
        let anyJSON = { (description: String) -> JSONValue in .object(["description": .string(description)]) }
        let time = typed("string", format: "date-time")
        let optionalTime = typed("string", format: "date-time", nullable: true)
        let uuid = typed("string", format: "uuid", nullable: true)
        let error = typed("object", "{code, message, step} of what failed", nullable: true)
        let stepStates = states(["running", "done", "failed"])
        let summary: [JSONValue.Member] = [
            .init("id", typed("string", "The saga's execution id", format: "uuid")),
            .init("service", typed("string", "The saga service")),
            .init("state", ref("schemas/SagaState")),
            .init("last_step", typed("string", "The step the state refers to", nullable: true)),
            .init("started_at", time), .init("updated_at", time), .init("finished_at", optionalTime),
            .init("error", error),
        ]
        let compensation = object(
            [
                .init("service", typed("string")), .init("state", stepStates),
                .init("attempts", typed("integer", "Runs so far, under the saga's retry policy")),
                .init("execution_id", uuid), .init("input", anyJSON("Its mapped parameters")), .init("error", error),
                .init("started_at", time), .init("finished_at", optionalTime),
            ], nullable: true, description: "The step's compensation, once it started")
        let step = object([
            .init("position", typed("integer", "0-based order in the configuration")),
            .init("name", typed("string")), .init("service", typed("string")), .init("state", stepStates),
            .init("execution_id", uuid), .init("input", anyJSON("Its mapped parameters")),
            .init("output", anyJSON("The step's data")), .init("error", error),
            .init("started_at", time), .init("finished_at", optionalTime),
            .init("compensation", compensation),
        ])
        let event = object([
            .init("id", typed("integer", "Increasing: the order of the timeline")),
            .init(
                "event",
                states([
                    "saga_started", "step_started", "step_done", "step_failed", "compensation_started",
                    "compensation_done", "compensation_failed", "saga_completed", "saga_failed", "saga_compensating",
                    "saga_compensated", "saga_compensation_failed", "compensation_retried", "saga_recovered",
                ])),
            .init("step", typed("string", "Null for the saga's own events", nullable: true)),
            .init("detail", anyJSON("What the event carries")), .init("at", time),
        ])
        let detail =
            summary + [
                .init("input", anyJSON("The validated request parameters (sensitive ones redacted)")),
                .init("correlation_id", typed("string", nullable: true)),
                .init("deadline", typed("string", "started_at + the saga's timeout_ms", format: "date-time")),
                .init("steps", array(step)), .init("events", array(event)),
            ]
        return [
            .init("SagaState", states(SagaState.allCases.map(\.rawValue))),
            .init("SagaSummary", object(summary)),
            .init(
                "SagaPage",
                object([
                    .init("items", array(ref("schemas/SagaSummary"))),
                    .init(
                        "next_cursor",
                        typed("string", "Pass as cursor for the next page; null on the last", nullable: true)),
                ])),
            .init("Saga", object(detail, description: "A saga with its steps (and their compensations) and timeline")),
        ]
    }()
}
