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

@Suite struct MillisecondsTests {
    private func text(_ value: Double) -> String {
        var out: [UInt8] = []
        JSONValue.writeMilliseconds(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func roundedToTheMicrosecondWithoutTrailingZeros() {
        #expect(text(0) == "0")
        #expect(text(12) == "12")
        #expect(text(1.5) == "1.5")
        #expect(text(63.25) == "63.25")
        #expect(text(0.125) == "0.125")
        #expect(text(0.0004) == "0")
        #expect(text(0.0996) == "0.1")
        #expect(text(2.0305) == "2.031" || text(2.0305) == "2.03")  // a binary double near the tie
        #expect(text(1234567.890123) == "1234567.89")
        #expect(text(-3.007) == "-3.007")
        #expect(text(0.05) == "0.05")
    }

    @Test func aDurationInAnAnswerIsTheSameNumber() {
        #expect(JSONValue.milliseconds(63.25).serialized() == "63.25")
        #expect(JSONValue.milliseconds(0.0004).serialized() == "0")
        #expect(JSONValue.milliseconds(.nan).serialized() == "null")
    }

    /// The text of a duration (built in place, in a small string) is what the writer writes,
    /// on both sides of the sizes that fit.
    @Test func theTextOfADurationIsTheWrittenNumber() {
        for value in [
            0, 1, 9.999, 10, 0.001, 0.0005, 999_999_999.999, 999_999_999.9996, 1e9, 1_234_567_890.5, -0.25,
            -999_999_999.999, 5e11, 86_400_000.125,
        ] {
            #expect(JSONValue.millisecondsText(value) == text(value), "\(value)")
        }
        #expect(JSONValue.millisecondsText(.nan) == nil)
        #expect(JSONValue.millisecondsText(.infinity) == nil)
    }

    @Test func notFiniteIsNullAndHugeKeepsTheDoublesForm() {
        #expect(text(.nan) == "null")
        #expect(text(-.infinity) == "null")
        #expect(text(3e15) == JSONValue.number(3e15).serialized())
    }

    @Test func digitsOfIntegers() {
        for value: UInt64 in [0, 7, 10, 99, 1_000_000, UInt64.max] {
            var out: [UInt8] = []
            JSONValue.writeDigits(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }
}

/// `writeString` decides eight bytes at a time whether a string needs escaping: every character
/// that must be escaped is caught wherever it falls in a word or in the tail.
@Suite struct JSONStringWriterTests {
    private func written(_ text: String) -> String {
        var out: [UInt8] = []
        JSONValue.writeString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func everyASCIICharacterAtEveryPositionRoundTrips() throws {
        for length in [1, 7, 8, 9, 16, 19] {
            for position in 0..<length {
                // NUL is escaped too (below), but the parser refuses it (JSON_ALLOW_NUL is off).
                for scalar in (0x01...0x7F).compactMap(Unicode.Scalar.init) + ["é", "€", "😀"] {
                    var characters = Array(repeating: Character("a"), count: length)
                    characters[position] = Character(scalar)
                    let text = String(characters)
                    let json = written(text)
                    #expect(try JSONValue.parse(json) == .string(text), "\(json)")
                }
            }
        }
    }

    @Test func plainTextIsCopiedAsItIs() {
        for text in ["", "a", "0195f3a2-7c1e-7d4b-9a3e-2f6b8c1d4e5f", "bench_customer_get", "Customer 5 ~ok!"] {
            #expect(written(text) == "\"" + text + "\"")
        }
        #expect(written("tab\there") == #""tab\there""#)
        #expect(written("a\"b\\c") == #""a\"b\\c""#)
        #expect(written("12345678\u{0}") == #""12345678\u0000""#)
    }
}
