import SPOJSON
import Testing

@testable import SPOCore

/// A retry policy document with nonsense in it is refused when it is written, each problem at its
/// path (found by the fuzz run: a bad name reached the table's CHECK constraint and answered 503;
/// retryable_sqlstates that are not SQLSTATEs were stored, or silently dropped).
@Suite struct RetryPolicyDocumentTests {
    private func problems(_ text: String) -> [String] {
        do {
            _ = try ServiceDocument.retryPolicy(from: try JSONValue.parse(text), path: "retry_policy")
            return []
        } catch let error as ConfigurationError {
            return error.problems.map(\.path)
        } catch {
            return ["not JSON: \(error)"]
        }
    }

    @Test(arguments: ["Bad Name", "z*", "Upper", "1st", "ünicode", String(repeating: "a", count: 64)])
    func aNameThatIsNoIdentifierIsRefused(name: String) {
        #expect(problems(#"{"name": "\#(name)"}"#) == ["retry_policy.name"])
    }

    @Test(arguments: [#"[1, "40001"]"#, #"[null]"#, #"[{}]"#, #"["40p01"]"#, #"["@@"]"#, #"["4000"]"#, #"[""]"#])
    func retryableSQLStatesMustBeSQLStatesOrClasses(states: String) {
        #expect(
            problems(#"{"name": "p", "retryable_sqlstates": \#(states)}"#).contains("retry_policy.retryable_sqlstates"))
    }

    @Test func aValidPolicyIsRead() throws {
        let policy = try ServiceDocument.retryPolicy(
            from: try JSONValue.parse(#"{"name": "p-1_x", "retryable_sqlstates": ["40001", "08", "57P01"]}"#),
            path: "retry_policy")
        #expect(policy.name == "p-1_x")
        #expect(policy.retryableSQLStates == ["40001", "08", "57P01"])
    }
}
