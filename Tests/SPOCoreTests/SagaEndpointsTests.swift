import SPOJSON
import Testing

@testable import SPOCore

/// The saga reads in the endpoint table: routed with their access, documented in OpenAPI.
@Suite struct SagaEndpointsTests {
    private let document = OpenAPIDocument.make(Configuration())

    @Test func theListIsAdministrationsAndOneSagaAnyCallersToAsk() {
        #expect(
            EndpointTable.match(method: "GET", path: "/api/sagas")
                == .found(EndpointTable.endpoint(.listSagas), arguments: []))
        #expect(
            EndpointTable.match(method: "GET", path: "/api/sagas/0193")
                == .found(EndpointTable.endpoint(.getSaga), arguments: ["0193"]))
        #expect(EndpointTable.endpoint(.listSagas).access == .admin)
        // Checked per saga by the handler: admin keys, or the key that started it.
        #expect(EndpointTable.endpoint(.getSaga).access == .caller)
        // Read back from a browser like an execution: the preflight is answered (CORS).
        #expect(
            EndpointTable.match(method: "DELETE", path: "/api/sagas/x")
                == .methodNotAllowed(allowed: "GET, HEAD, OPTIONS"))
    }

    @Test func openAPIDescribesTheFiltersThePageAndTheTimeline() {
        let list = document["paths"]?["/api/sagas"]?["get"]
        #expect(
            list?["parameters"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
                == ["state", "service", "limit", "cursor"])
        #expect(list?["responses"]?["400"] != nil)
        let schemas = document["components"]?["schemas"]
        #expect(
            schemas?["SagaState"]?["enum"]?.arrayValue?.compactMap(\.stringValue) == SagaState.allCases.map(\.rawValue))
        #expect(schemas?["SagaPage"]?["required"] == .array([.string("items"), .string("next_cursor")]))
        let saga = schemas?["Saga"]?["properties"]
        #expect(saga?["steps"]?["items"]?["properties"]?["compensation"]?["nullable"] == .bool(true))
        #expect(saga?["events"]?["items"]?["required"]?.arrayValue?.count == 5)
        let one = document["paths"]?["/api/sagas/{id}"]?["get"]
        #expect(one?["responses"]?["200"] != nil && one?["responses"]?["404"] != nil)
        #expect(
            one?["parameters"]?.arrayValue?.contains(.object(["$ref": .string("#/components/parameters/SagaID")]))
                == true)
    }
}
