import SPOJSON

extension EndpointTable {
    /// The rows one page of a listing may hold (`limit`), and how many without one.
    public static let pageSizes = 1...500
    public static let defaultPageSize = 50

    /// The saga log: a page of sagas for administration, one saga with its timeline for
    /// administration and for the key that started it, and the manual retry of its compensations.
    static var sagas: [Endpoint] {
        func query(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
            .object([
                "name": .string(name), "in": .string("query"), "required": .bool(false),
                "description": .string(description), "schema": schema,
            ])
        }
        let ref = OpenAPIDocument.Components.ref
        let string: JSONValue = .object(["type": .string("string")])
        return [
            Endpoint(
                .listSagas, .get, "/api/sagas", .admin,
                summary: "Sagas newest first, a page at a time (cursor pagination)",
                parameters: [
                    query("state", "Only those in this state", ref("schemas/SagaState")),
                    query("service", "Only this saga service's", string),
                    query(
                        "limit", "Page size",
                        .object([
                            "type": .string("integer"), "minimum": .number(pageSizes.lowerBound),
                            "maximum": .number(pageSizes.upperBound),
                            "default": .number(defaultPageSize),
                        ])),
                    query("cursor", "next_cursor of the previous page", string),
                ],
                success: .init(status: 200, description: "One page", schema: ref("schemas/SagaPage")),
                errors: [.invalidParameters]),
            Endpoint(
                .getSaga, .get, "/api/sagas/{id}", .caller,
                summary: "One saga with its steps, their compensations and its events in order. Admin keys: any; "
                    + "other callers: the sagas they started",
                parameters: [ref("parameters/SagaID")],
                success: .init(status: 200, description: "Found", schema: ref("schemas/Saga")),
                errors: [.notFound, .dbConnectionFailed]),
            Endpoint(
                .compensateSaga, .post, "/api/sagas/{id}/compensate", .admin,
                summary: "Runs the compensations of a compensation_failed saga that are not done again, last step "
                    + "first, under the saga's retry policy",
                parameters: [ref("parameters/SagaID")],
                success: .init(status: 200, description: "The saga after the retry", schema: ref("schemas/Saga")),
                errors: [.notFound, .sagaNotCompensable, .dbConnectionFailed]),
        ]
    }

}
