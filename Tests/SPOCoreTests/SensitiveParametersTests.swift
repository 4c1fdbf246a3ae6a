import SPOJSON
import Testing

@testable import SPOCore

/// Sensitive values are replaced wherever parameters are recorded, and a re-run knows which ones
/// it must be sent again.
@Suite struct SensitiveParametersTests {
    let service = ServiceDefinition(
        name: "pay", connection: "c", procedure: QualifiedName(schema: "public", name: "pay"), resultShape: .scalar,
        parameters: [
            ParameterSpec(name: "p_amount", type: SQLType(.numeric)),
            ParameterSpec(name: "p_card", type: SQLType(.text), sensitive: true),
            ParameterSpec(name: "p_pin", type: SQLType(.text), sensitive: true),
        ])

    @Test func sensitiveValuesAreRedacted() {
        let sent: JSONValue = .object([
            "p_amount": .number(12), "p_card": .string("4111111111111111"), "p_pin": .null,
            "p_unknown": .string("x"),
        ])
        let recorded = service.recordable(sent)
        #expect(recorded["p_card"] == .string("[redacted]"))
        #expect(recorded["p_pin"] == .null, "nothing to hide in a null")
        #expect(recorded["p_amount"] == .number(12))
        #expect(recorded["p_unknown"] == .string("x"))
        #expect(!recorded.serialized().contains("4111"))
        #expect(service.sensitiveParameters.redacted(in: recorded) == ["p_card"])
    }

    @Test func aServiceWithoutSensitiveParametersRecordsWhatWasSent() {
        var plain = service
        plain.parameters = [ParameterSpec(name: "p_card", type: SQLType(.text))]
        let sent: JSONValue = .object(["p_card": .string("4111")])
        #expect(plain.recordable(sent) == sent)
        #expect(plain.sensitiveParameters.isEmpty)
    }

    @Test func theOpenAPISchemaMarksThemWriteOnly() {
        let schema = OpenAPIDocument.ParameterSchema.input(service.parameters[1])
        #expect(schema["writeOnly"] == .bool(true))
        #expect(OpenAPIDocument.ParameterSchema.input(service.parameters[0])["writeOnly"] == nil)
    }
}
