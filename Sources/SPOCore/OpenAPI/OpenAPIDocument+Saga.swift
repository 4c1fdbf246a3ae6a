import SPOJSON

// MARK: - Saga execution paths

extension OpenAPIDocument {
    /// `POST /api/services/{name}/execute` of a saga: the request is the saga's parameters (as for
    /// any service), the answer every step's data under `data.steps` and the saga's id and state.
    static func sagaExecutePath(_ service: ServiceDefinition, among services: [ServiceDefinition]) -> JSONValue {
        guard case .object(var post)? = executePath(service)["post"], let saga = service.saga else {
            return executePath(service)
        }
        let members = saga.steps.map { step in services.first { $0.name == step.service } }
        let steps: JSONValue = .object([
            "type": .string("object"),
            "description": .string("Each step's data by step name, as the step's own service answers it"),
            "properties": .object(
                zip(saga.steps, members).map { step, member in
                    .init(step.name, member.map(ResultSchema.data) ?? .object([:]))
                }),
        ])
        let answer: JSONValue = .object([
            "type": .string("object"),
            "required": .array(
                ["execution_id", "service", "status", "duration_ms", "data", "saga"].map(JSONValue.string)),
            "properties": .object([
                "execution_id": .object(["type": .string("string"), "format": .string("uuid")]),
                "service": .object(["type": .string("string"), "enum": .array([.string(service.name)])]),
                "status": .object(["type": .string("string"), "enum": .array([.string("succeeded")])]),
                "duration_ms": .object(["type": .string("number"), "minimum": .number(0)]),
                "data": .object([
                    "type": .string("object"), "required": .array([.string("steps")]),
                    "properties": .object(["steps": steps]),
                ]),
                "saga": .object([
                    "type": .string("object"), "required": .array([.string("id"), .string("state")]),
                    "properties": .object([
                        "id": .object(["type": .string("string"), "format": .string("uuid")]),
                        "state": .object(["type": .string("string"), "enum": .array([.string("completed")])]),
                    ]),
                ]),
            ]),
        ])
        func set(_ key: String, _ value: JSONValue) {
            if let index = post.firstIndex(where: { $0.key == key }) { post[index] = .init(key, value) }
        }
        set(
            "description",
            .string(
                "A saga of \(saga.steps.count) steps (\(saga.steps.map(\.name).joined(separator: ", "))): run in order; "
                    + "when one fails, the done steps are compensated in reverse order and the answer is the failed "
                    + "step's error, its details naming the saga (id, state, failed_step). Times out after "
                    + "\(service.timeoutMilliseconds) ms."))
        set("responses", executionResponses(answer, failures: ExecutionFailures.union(members.compactMap { $0 })))
        return .object(["post": .object(post)])
    }
}
