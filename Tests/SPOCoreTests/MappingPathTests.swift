import SPOJSON
import Testing

@testable import SPOCore

@Suite struct MappingPathTests {
    let context = JSONValue.object([
        .init("input", .object([.init("p_id", .number("7")), .init("p_name", .string("Ana"))])),
        .init(
            "steps",
            .object([
                .init(
                    "create_order",
                    .object([
                        .init("data", .array([.object([.init("order_id", .number("41"))])]))
                    ]))
            ])),
    ])

    @Test func pathsWalkMembersAndIndexes() throws {
        let path = try #require(MappingPath(parsing: "$.steps.create_order.data[0].order_id"))
        #expect(path.resolve(in: context) == .number("41"))
        #expect(path.step == "create_order")
        #expect(path.inputParameter == nil)
        #expect(path.description == "$.steps.create_order.data[0].order_id")
        let input = try #require(MappingPath(parsing: "$.input.p_name"))
        #expect(input.resolve(in: context) == .string("Ana"))
        #expect(input.inputParameter == "p_name")
    }

    @Test func pathsThatLeadNowhereResolveToNil() throws {
        for text in ["$.input.missing", "$.steps.create_order.data[1]", "$.input.p_id.deeper", "$.input[0]"] {
            let path = try #require(MappingPath(parsing: text))
            #expect(path.resolve(in: context) == nil, "\(text)")
        }
    }

    @Test func malformedPathsAreRefused() {
        for text in [
            "$", "$.", "$..a", "$.a[", "$.a[x]", "$.a[-1]", "$.a b", "$.a;DROP", "input.p_id", "$.a[1234567890]",
        ] {
            #expect(MappingPath(parsing: text) == nil, "\(text)")
        }
    }

    @Test func sourcesAreLiteralsUnlessTheyStartWithDollar() throws {
        #expect(try ParameterSource.read(.string("plain")).get() == .literal(.string("plain")))
        #expect(try ParameterSource.read(.number("3")).get() == .literal(.number("3")))
        let escaped = JSONValue.object([.init("literal", .string("$5 off"))])
        let literal = try ParameterSource.read(escaped).get()
        #expect(literal == .literal(.string("$5 off")))
        #expect(literal.documentValue == escaped)
        let path = try ParameterSource.read(.string("$.input.p_id")).get()
        #expect(path.value(in: context) == .number("7"))
        #expect(path.documentValue == .string("$.input.p_id"))
        #expect(throws: MappingError.self) { try ParameterSource.read(.string("$.input.")).get() }
    }
}
