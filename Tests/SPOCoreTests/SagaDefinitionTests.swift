import SPOJSON
import Testing

@testable import SPOCore

@Suite struct SagaDefinitionTests {
    static let document = """
        {"name": "campaign_launch", "kind": "saga", "timeout_ms": 60000, "retry_policy": "default",
         "parameters": [{"name": "p_name", "type": "text", "required": true}],
         "steps": [
           {"name": "create", "service": "campaign_create", "parameters": {"p_name": "$.input.p_name", "p_n": 3},
            "compensation": {"service": "campaign_cancel",
                             "parameters": {"p_id": "$.steps.create.data[0].campaign_id"}}},
           {"name": "charge", "service": "payment_charge",
            "parameters": {"p_campaign_id": "$.steps.create.data[0].campaign_id",
                           "p_note": {"literal": "$5"}}}
         ]}
        """

    func draft(_ text: String) throws -> ServiceDocument.Draft {
        try ServiceDocument.draft(from: try JSONValue.parse(text))
    }

    func problems(_ text: String) -> [String: String] {
        do {
            _ = try draft(text)
            return [:]
        } catch let error as ConfigurationError {
            return Dictionary(error.problems.map { ($0.path, $0.problem) }, uniquingKeysWith: { first, _ in first })
        } catch {
            return ["?": "\(error)"]
        }
    }

    @Test func aSagaDocumentIsReadAndWrittenBackTheSame() throws {
        let read = try draft(Self.document)
        let saga = try #require(read.saga)
        #expect(read.kind == .saga && read.connection.isEmpty && read.procedure.isEmpty)
        #expect(saga.steps.map(\.name) == ["create", "charge"])
        #expect(saga.steps[0].compensation?.service == "campaign_cancel")
        #expect(saga.steps[1].compensation == nil)
        #expect(saga.steps[1].parameters[1].source == .literal(.string("$5")))
        var service = ServiceDefinition(
            name: read.name, kind: .saga, connection: "", procedure: QualifiedName(schema: "", name: ""),
            resultShape: .void, parameters: read.parameters ?? [], timeoutMilliseconds: read.timeoutMilliseconds,
            retryPolicy: read.retryPolicy)
        service.saga = saga
        let written = ServiceDocument.document(for: service)
        #expect(written["connection"] == nil && written["procedure"] == nil)
        let again = try ServiceDocument.draft(from: written)
        #expect(again.saga == saga)
        #expect(again.parameters == read.parameters)
    }

    @Test func theDocumentAloneTellsMappingAndCompensationProblems() {
        let found = problems(
            """
            {"name": "s", "kind": "saga", "connection": "demo", "parameters": [{"name": "p_id", "type": "integer"}],
             "steps": [
               {"name": "a", "service": "x", "parameters": {"p": "$.steps.b.data", "q": "$.input.p_nope",
                "r": "$.elsewhere", "s": "$bad["}},
               {"name": "a", "service": "y", "parameters": {},
                "compensation": {"service": "z", "parameters": {"p": "$.steps.a.data", "q": "$.steps.c.data"}}},
               {"name": "c", "service": "", "unknown": 1}
             ]}
            """)
        #expect(found["service.connection"]?.contains("a saga has none") == true)
        #expect(found["service.steps[0].parameters.p"]?.contains("does not run before this point") == true)
        #expect(found["service.steps[0].parameters.q"]?.contains("names no parameter of this saga") == true)
        #expect(found["service.steps[0].parameters.r"]?.contains("must start with $.input") == true)
        #expect(found["service.steps[0].parameters.s"]?.contains("is not a path") == true)
        #expect(found["service.steps[0].compensation"]?.contains("only the last step") == true)
        #expect(found["service.steps[1].name"]?.contains("unique") == true)
        // A compensation may read its own step's output, not a later one's.
        #expect(found["service.steps[1].compensation.parameters.p"] == nil)
        #expect(found["service.steps[1].compensation.parameters.q"]?.contains("does not run before") == true)
        #expect(found["service.steps[2].service"] != nil)
        #expect(found["service.steps[2].unknown"] != nil)
        #expect(problems(#"{"name": "s", "kind": "saga", "steps": []}"#)["service.steps"] != nil)
    }

    @Test func rulesCheckTheStepsAgainstTheirServices() throws {
        let saga = try #require(try draft(Self.document).saga)
        let create = ServiceDefinition(
            name: "campaign_create", connection: "c", procedure: QualifiedName(schema: "c", name: "f"),
            resultShape: .set,
            parameters: [
                ParameterSpec(name: "p_name", type: SQLType(.text), required: true),
                ParameterSpec(name: "p_budget", type: SQLType(.numeric), required: true),
            ])
        var composite = create
        composite.name = "payment_charge"
        composite.kind = .saga
        let problems = SagaRules.problems(saga) { name in
            ["campaign_create": create, "payment_charge": composite][name]
        }
        let byPath = Dictionary(problems.map { ($0.path, $0.problem) }, uniquingKeysWith: { first, _ in first })
        #expect(byPath["service.steps[0].parameters.p_n"]?.contains("has no parameter p_n") == true)
        #expect(byPath["service.steps[0].parameters"]?.contains("p_budget is required") == true)
        #expect(byPath["service.steps[0].compensation.service"] == "no service named campaign_cancel")
        #expect(byPath["service.steps[1].service"]?.contains("composites do not nest") == true)
    }
}
