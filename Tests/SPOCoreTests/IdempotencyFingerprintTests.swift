import SPOJSON
import Testing

@testable import SPOCore

@Suite struct IdempotencyFingerprintTests {
    private let validator = ParameterValidator(parameters: [
        ParameterSpec(name: "b_count", type: SQLType(.integer), required: true),
        ParameterSpec(name: "a_doc", type: SQLType(.jsonb)),
        ParameterSpec(name: "c_note", type: SQLType(.text), defaultValue: .string("none")),
    ])

    private func fingerprint(_ body: String, service: String = "svc") throws -> String {
        let bound = try validator.validate(JSONValue.parse(body)).get()
        return IdempotencyFingerprint.of(service: service, bound)
    }

    @Test func theSameCallInAnyOrderHasOneFingerprint() throws {
        let first = try fingerprint(#"{"b_count": 1, "a_doc": {"x": 1, "y": [2, {"q": 1, "p": 2}]}}"#)
        #expect(first.count == 64 && first.allSatisfy(\.isHexDigit))
        #expect(try fingerprint(#"{"a_doc": {"y": [2, {"p": 2, "q": 1}], "x": 1}, "b_count": 1}"#) == first)
        // What the procedure receives counts: the integer's text, the default sent or not.
        #expect(try fingerprint(#"{"b_count": "1", "a_doc": {"x": 1, "y": [2, {"q": 1, "p": 2}]}}"#) == first)
        #expect(
            try fingerprint(#"{"b_count": 1, "a_doc": {"x": 1, "y": [2, {"q": 1, "p": 2}]}, "c_note": "none"}"#)
                == first)
    }

    @Test func anyOtherCallDiffers() throws {
        let first = try fingerprint(#"{"b_count": 1}"#)
        #expect(try fingerprint(#"{"b_count": 2}"#) != first)
        #expect(try fingerprint(#"{"b_count": 1}"#, service: "other") != first)
        #expect(try fingerprint(#"{"b_count": 1, "a_doc": null}"#) != first, "an explicit null is sent")
        #expect(try fingerprint(#"{"b_count": 1, "c_note": "x"}"#) != first)
        #expect(
            try fingerprint(#"{"b_count": 1, "a_doc": [2, 1]}"#)
                != (try fingerprint(#"{"b_count": 1, "a_doc": [1, 2]}"#)))
    }
}
