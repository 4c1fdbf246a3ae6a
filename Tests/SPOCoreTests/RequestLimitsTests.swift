import SPOJSON
import Testing

@testable import SPOCore

@Suite struct RequestLimitsTests {
    static let limits = RequestLimits(maxDepth: 4, maxParameters: 3, maxStringLength: 10, maxArrayItems: 5)

    static func problems(_ body: String, _ limits: RequestLimits = limits) -> [ParameterProblem] {
        limits.decode(Array(body.utf8)).failure?.problems ?? []
    }

    @Test func aDocumentWithinEveryLimitIsDecoded() throws {
        let document = try Self.limits.decode(Array(#"{"a": [[{"b": "0123456789"}]], "c": [1, 2, 3, 4, 5]}"#.utf8))
            .get()
        #expect(document["c"]?.arrayValue?.count == 5)
    }

    @Test func nestingDeeperThanTheLimitIsNamedWithItsPlace() {
        #expect(Self.problems(#"{"a": [[{"b": 1}]]}"#).isEmpty)
        let problems = Self.problems(#"{"a": [[{"b": [1]}]]}"#)
        #expect(
            problems == [
                .init(
                    parameter: "a[0][0].b",
                    problem: "nests arrays and objects deeper than 4 levels (SPO_MAX_JSON_DEPTH)")
            ])
    }

    /// jansson refuses past 2048 levels by itself: that is reported as the depth limit, not as bad JSON.
    @Test func nestingBeyondJanssonsOwnLimitIsTheDepthLimitToo() {
        let deep = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        let problems = Self.problems(#"{"a": \#(deep)}"#, .defaults)
        #expect(problems.count == 1)
        #expect(problems.first?.problem.contains("deeper than 32 levels (SPO_MAX_JSON_DEPTH)") == true)
        let justOver = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(Self.problems(#"{"a": \#(justOver)}"#, .defaults).first?.parameter != nil)
        let justWithin = String(repeating: "[", count: 31) + String(repeating: "]", count: 31)
        #expect(Self.problems(#"{"a": \#(justWithin)}"#, .defaults).isEmpty)
    }

    @Test func aLongStringIsNamedWithoutRepeatingIt() {
        // Ten characters of two bytes each are within the limit: characters count, not bytes.
        #expect(Self.problems(#"{"a": "éééééééééé"}"#).isEmpty)
        let problems = Self.problems(#"{"a": ["ok", "01234567890"]}"#)
        #expect(
            problems == [
                .init(parameter: "a[1]", problem: "is a string longer than 10 characters (SPO_MAX_STRING_LENGTH)")
            ])
        let key = Self.problems(#"{"a": {"01234567890": 1}}"#)
        #expect(
            key == [
                .init(parameter: "a", problem: "has a member name longer than 10 characters (SPO_MAX_STRING_LENGTH)")
            ])
        #expect(!key.description.contains("01234567890"))
    }

    @Test func aLongArrayIsNamed() {
        let problems = Self.problems(#"{"a": {"b": [1, 2, 3, 4, 5, 6]}}"#)
        #expect(
            problems == [
                .init(
                    parameter: "a.b", problem: "is an array of 6 elements; at most 5 are accepted (SPO_MAX_ARRAY_ITEMS)"
                )
            ])
    }

    @Test func tooManyParametersAreCounted() throws {
        let within = try Self.limits.decode(Array(#"{"a": 1, "b": 2, "c": 3}"#.utf8)).get()
        #expect(Self.limits.parameterCountProblems(within).isEmpty)
        let over = try Self.limits.decode(Array(#"{"a": 1, "b": 2, "c": 3, "d": 4}"#.utf8)).get()
        #expect(
            Self.limits.parameterCountProblems(over) == [
                .init(parameter: nil, problem: "has 4 parameters; at most 3 are accepted (SPO_MAX_PARAMETERS)")
            ])
    }

    @Test func badJSONIsStillSaidToBeBadJSON() {
        #expect(Self.problems(#"{"a": "\u0000"}"#).first?.problem.hasPrefix("the body is not valid JSON") == true)
        #expect(Self.problems(#"{"a": 1e400}"#).first?.problem.hasPrefix("the body is not valid JSON") == true)
    }

    @Test func theEnvironmentSetsEachLimitAndABadValueIsAProblem() throws {
        let limits = try RequestLimits.from(
            environment: ["SPO_MAX_JSON_DEPTH": "8", "SPO_MAX_RESULT_BYTES": "4096", "OTHER": "x"], maxBodyBytes: 512
        ).get()
        #expect(limits == RequestLimits(maxBodyBytes: 512, maxDepth: 8, maxResultBytes: 4096))
        #expect(RequestLimits.from(environment: [:]).success == .defaults)
        for bad in ["0", "-1", "ten", "", "99999999999"] {
            #expect(RequestLimits.from(environment: ["SPO_MAX_ARRAY_ITEMS": bad]).failure?.setting == .maxArrayItems)
        }
    }
}

extension Result {
    fileprivate var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }

    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
