import SPOJSON
import Testing

@testable import SPOCore
@testable import SPOServer

@Suite struct InFlightEntryTests {
    let service = ServiceDefinition(
        name: "pay", connection: "c", procedure: QualifiedName(schema: "public", name: "pay"), resultShape: .scalar,
        parameters: [
            ParameterSpec(name: "p_amount", type: SQLType(.numeric)),
            ParameterSpec(name: "p_card", type: SQLType(.text), sensitive: true),
        ])

    /// Every kind of service notes its execution through this one initializer (a parallel one
    /// wrote its parameters as sent before), so a journal never holds a sensitive value.
    @Test func sensitiveValuesNeverReachTheJournal() throws {
        let entry = InFlightEntry(
            executionID: "e-1", service: service,
            parameters: .object(["p_amount": .number("12.50"), "p_card": .string("4111111111111111")]),
            user: "key:shop",
            correlationID: "c-1")
        #expect(entry.parameters["p_card"] == .string("[redacted]"))
        var bytes: [UInt8] = []
        entry.write(to: &bytes)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("4111"))
    }

    @Test func aRecordIsReadBackAsWritten() throws {
        let entry = InFlightEntry(
            executionID: "0193a6f0-0000-7000-8000-000000000001", serviceID: 42, serviceName: "note \"add\"",
            parameters: .object(["p_note": .string("é\n\u{1}"), "p_n": .number("-1.5e3"), "p_list": .array([.null])]),
            user: "key:notes", correlationID: "c:1", startedAtMilliseconds: 1_764_000_000_123)
        var bytes: [UInt8] = []
        entry.write(to: &bytes)
        let record = try JSONValue.parse(bytes)
        #expect(record["started_at_ms"] == .number("1764000000123"))
        #expect(InFlightEntry(record) == entry)
    }

    @Test func aRecordWithoutAnExecutionIDIsNoEntry() throws {
        #expect(InFlightEntry(try JSONValue.parse(Array(#"{"service_id": 1}"#.utf8))) == nil)
        #expect(InFlightEntry(.array([])) == nil)
    }

    @Test func negativeAndZeroIntegersAreWritten() throws {
        for value: Int64 in [0, -7, .min, .max] {
            var bytes: [UInt8] = []
            JSONValue.writeInteger(value, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == String(value))
        }
    }
}
