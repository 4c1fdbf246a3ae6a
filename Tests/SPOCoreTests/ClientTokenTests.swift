import Testing

@testable import SPOCore

@Suite struct ClientTokenTests {
    @Test(arguments: [
        "0b6f3e2a-6d7e-4c4e-9d7e-2a1f0c3b4d5e", "0B6F3E2A-6D7E-4C4E-9D7E-2A1F0C3B4D5E", "a", "req_42",
        "trace.span:1", String(repeating: "x", count: 128),
    ])
    func acceptsPrintableIds(token: String) {
        #expect(ClientToken.isValid(token))
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 129), "a b", " a", "a\r\nSet-Cookie: x=1", "a\n", "a\r", "a\t", "a\u{0}",
        "é", "идентификатор", "ab\u{200B}", "a/b", "a;b", "a,b", "a\"b", "<script>", "a%0d%0a", "emoji🙂",
        "ǅ", "ª", "Ⅻ",
    ])
    func rejectsAnythingElse(token: String) {
        #expect(!ClientToken.isValid(token))
    }

    /// The pattern the OpenAPI document publishes says exactly what the check accepts.
    @Test func thePublishedPatternAgreesWithTheCheckOnEveryCharacter() throws {
        let published = try WholeStringPattern.compile(ClientToken.pattern).get()
        for scalar in (0..<0x300).compactMap(Unicode.Scalar.init) {
            let text = "a" + String(Character(scalar)) + "z"
            #expect(published.matches(text) == ClientToken.isValid(text), "U+\(String(scalar.value, radix: 16))")
        }
    }
}
