import SPOJSON

// MARK: - Result schemas

extension OpenAPIDocument {
    /// The schema of `data` in a success, by the routine's result shape.
    enum ResultSchema {
        static func data(_ service: ServiceDefinition) -> JSONValue {
            switch service.resultShape {
            case .set:
                return .object([
                    "type": .string("array"),
                    "description": .string("The rows, one object per row keyed by column name"),
                    // The columns are not part of the configuration.
                    "items": .object(["type": .string("object"), "additionalProperties": .bool(true)]),
                ])
            case .scalar:
                return .object(["description": .string("The function's value, of any JSON type")])
            case .void:
                return voidSchema
            case .procedure:
                let outputs = service.parameters.filter { $0.direction.isOutput }
                guard !outputs.isEmpty else { return voidSchema }
                return .object([
                    "type": .string("object"),
                    "description": .string("The OUT and INOUT parameters by name"),
                    "required": .array(outputs.map { .string($0.name) }),
                    "properties": .object(outputs.map { .init($0.name, ParameterSchema.output($0)) }),
                ])
            }
        }

        private static let voidSchema: JSONValue = .object([
            "nullable": .bool(true), "description": .string("always null"),
        ])

        /// One sentence on what `data` holds, for the operation's description.
        static func explanation(_ service: ServiceDefinition) -> String {
            switch service.resultShape {
            case .set: "data is the array of rows the function returns."
            case .scalar: "data is the value the function returns."
            case .void: "data is null."
            case .procedure:
                service.parameters.contains { $0.direction.isOutput }
                    ? "data is the object of the procedure's OUT and INOUT parameters." : "data is null."
            }
        }
    }
}
