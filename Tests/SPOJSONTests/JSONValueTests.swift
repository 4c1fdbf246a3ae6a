import SPOJSON
import Testing

@Suite struct JSONParserTests {
    @Test func keepsEveryDigitOfNumbers() throws {
        let value = try JSONValue.parse(
            #"{"a": 12345678901234567890.123456789, "b": 9223372036854775807, "c": -9223372036854775808, "d": 1e3}"#)
        #expect(value["a"] == .number("12345678901234567890.123456789"))
        #expect(value["b"] == .number("9223372036854775807"))
        #expect(value["c"] == .number("-9223372036854775808"))
        #expect(value["d"] == .number("1e3"))
    }

    @Test func numbersInsideStringsDoNotShiftLiterals() throws {
        let value = try JSONValue.parse(#"{"s": "x 12 \" 34", "n": [5, {"m": -6.5}], "t": "7"}"#)
        #expect(value["s"] == .string("x 12 \" 34"))
        #expect(value["n"] == .array([.number("5"), .object(["m": .number("-6.5")])]))
        #expect(value["t"] == .string("7"))
    }

    @Test func keepsMemberOrderAndTypes() throws {
        let value = try JSONValue.parse(#"{"z": true, "a": null, "m": false, "u": "é\u00e9"}"#)
        #expect(value.members?.map(\.key) == ["z", "a", "m", "u"])
        #expect(value["z"] == .bool(true))
        #expect(value["a"] == .null)
        #expect(value["u"] == .string("éé"))
    }

    @Test func rejectsDuplicateKeys() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a": 1, "a": 2}"#) }
    }

    @Test func reportsWhereSyntaxBreaks() {
        do {
            _ = try JSONValue.parse("{\"a\": 1,\n \"b\": }")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 2)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func acceptsScalarDocuments() throws {
        #expect(try JSONValue.parse("42") == .number("42"))
        #expect(try JSONValue.parse("\"x\"") == .string("x"))
    }
}

@Suite struct JSONWriterTests {
    @Test func writesCompactJSONWithExactNumbers() {
        let value: JSONValue = .object([
            "n": .number("12345678901234567890.123456789"), "s": .string("a\"b\\c\n</script>"),
            "l": .array([.bool(true), .null]), "r": .raw(#"[{"x":1}]"#),
        ])
        #expect(
            value.serialized()
                == #"{"n":12345678901234567890.123456789,"s":"a\"b\\c\n</script>","l":[true,null],"r":[{"x":1}]}"#)
    }

    @Test func roundTripsThroughTheParser() throws {
        let text = #"{"a":[1,2.5,-3e-7],"b":{"c":"ü\u0001"},"d":false}"#
        let value = try JSONValue.parse(text)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test func numberFromDouble() {
        #expect(JSONValue.number(3.0) == .number("3"))
        #expect(JSONValue.number(2.5) == .number("2.5"))
        #expect(JSONValue.number(Double.nan) == .null)
    }
}
