import SPOJSON
import Testing

@testable import SPOCore

/// What validating a single parameter `p` produced: its bound text, or the problem messages.
private enum Outcome: Equatable {
    case bound(String?)
    case rejected([String])
}

/// Validates `{"p": value}` against one required parameter configured by `spec`.
private func check(_ spec: ParameterSpec, _ value: JSONValue) -> Outcome {
    switch ParameterValidator(parameters: [spec]).validate(.object(["p": value])) {
    case .success(let bound): return .bound(bound.first?.text)
    case .failure(let failure): return .rejected(failure.problems.map(\.problem))
    }
}

private func check(_ type: SQLType, _ value: JSONValue) -> Outcome {
    check(ParameterSpec(name: "p", type: type, required: true), value)
}

private func spec(_ type: SQLType, _ configure: (inout ParameterSpec) -> Void = { _ in }) -> ParameterSpec {
    var spec = ParameterSpec(name: "p", type: type, required: true)
    configure(&spec)
    return spec
}

private func problems(_ result: Result<[BoundParameter], ValidationFailure>) -> [ParameterProblem] {
    if case .failure(let failure) = result { return failure.problems }
    return []
}

private func bound(_ result: Result<[BoundParameter], ValidationFailure>) -> [BoundParameter]? {
    if case .success(let parameters) = result { return parameters }
    return nil
}

@Suite struct ParameterValidatorTests {
    // MARK: Integers

    @Test(arguments: [
        (SQLType.Base.smallint, "32767", "32767"), (.smallint, "-32768", "-32768"),
        (.integer, "2147483647", "2147483647"), (.integer, "-2147483648", "-2147483648"),
        (.bigint, "9223372036854775807", "9223372036854775807"),
        (.bigint, "-9223372036854775808", "-9223372036854775808"),
        (.integer, "0", "0"), (.integer, "-0", "0"),
    ])
    func integerBoundsAreAcceptedExactly(base: SQLType.Base, literal: String, expected: String) {
        #expect(check(SQLType(base), .number(literal)) == .bound(expected))
    }

    @Test(arguments: [
        (SQLType.Base.smallint, "32768", "must be an integer between -32768 and 32767"),
        (.smallint, "-32769", "must be an integer between -32768 and 32767"),
        (.integer, "2147483648", "must be an integer between -2147483648 and 2147483647"),
        (.integer, "-2147483649", "must be an integer between -2147483648 and 2147483647"),
        (
            .bigint, "9223372036854775808",
            "must be an integer between -9223372036854775808 and 9223372036854775807"
        ),
        (
            .bigint, "-9223372036854775809",
            "must be an integer between -9223372036854775808 and 9223372036854775807"
        ),
        (
            .bigint, "99999999999999999999999",
            "must be an integer between -9223372036854775808 and 9223372036854775807"
        ),
    ])
    func integersOutsideTheirTypeAreRejected(base: SQLType.Base, literal: String, message: String) {
        #expect(check(SQLType(base), .number(literal)) == .rejected([message]))
    }

    @Test func integersMayArriveAsStringsAndAreCanonicalised() {
        #expect(check(SQLType(.bigint), .string("9223372036854775807")) == .bound("9223372036854775807"))
        #expect(check(SQLType(.integer), .string("0042")) == .bound("42"))
        #expect(check(SQLType(.integer), .string("-007")) == .bound("-7"))
        #expect(check(SQLType(.bigint), .string("9223372036854775808")) != .bound("9223372036854775808"))
    }

    @Test(arguments: [
        JSONValue.number("5.0"), .number("1e3"), .number("-1.5"), .string("1.5"), .string(" 5"), .string("+5"),
        .string(""), .string("-"), .string("5x"), .bool(true), .array([.number("1")]), .object([]),
    ])
    func nonIntegersAreRejected(value: JSONValue) {
        #expect(check(SQLType(.integer), value) == .rejected(["must be an integer between -2147483648 and 2147483647"]))
    }

    // MARK: Numeric and floating point

    @Test(arguments: [
        JSONValue.number("12345678901234567890.123456789"), .number("-0.000000000000000000000000001"),
        .number("1.5E+10"), .number("2e-3"), .string("98765432109876543210.0000000001"), .string("007.50"),
    ])
    func numericKeepsEveryDigitOfTheLiteral(value: JSONValue) {
        let literal: String
        switch value {
        case .number(let text), .string(let text): literal = text
        default: literal = ""
        }
        #expect(check(SQLType(.numeric), value) == .bound(literal))
    }

    @Test(arguments: [
        JSONValue.string("NaN"), .string("Infinity"), .string("1."), .string(".5"), .string("1e"), .string("1,5"),
        .string("--1"), .string(""), .bool(false), .array([]),
    ])
    func numericRejectsNonDecimals(value: JSONValue) {
        #expect(check(SQLType(.numeric), value) == .rejected(["must be a decimal number"]))
    }

    @Test func floatingPointTakesNumbersAndChecksTheirRange() {
        #expect(check(SQLType(.doublePrecision), .number("1.5e3")) == .bound("1.5e3"))
        #expect(check(SQLType(.real), .number("0.1")) == .bound("0.1"))
        #expect(check(SQLType(.doublePrecision), .number("1e39")) == .bound("1e39"))
        #expect(check(SQLType(.doublePrecision), .number("0")) == .bound("0"))
        let realProblem = Outcome.rejected(["must be a number within the range of real"])
        #expect(check(SQLType(.real), .number("1e39")) == realProblem)
        #expect(check(SQLType(.real), .number("1e-50")) == realProblem)
        #expect(check(SQLType(.real), .string("1.5")) == realProblem)
        let doubleProblem = Outcome.rejected(["must be a number within the range of double precision"])
        #expect(check(SQLType(.doublePrecision), .number("1e400")) == doubleProblem)
        #expect(check(SQLType(.doublePrecision), .bool(true)) == doubleProblem)
    }

    // MARK: Strings

    @Test func textTakesStringsOnly() {
        #expect(check(SQLType(.text), .string("héllo, wörld")) == .bound("héllo, wörld"))
        #expect(check(SQLType(.text), .string("")) == .bound(""))
        #expect(check(SQLType(.text), .number("5")) == .rejected(["must be a string"]))
        #expect(check(SQLType(.varchar), .bool(true)) == .rejected(["must be a string"]))
    }

    @Test func textWithNULIsRejectedBecauseLibpqWouldTruncateIt() {
        #expect(check(SQLType(.text), .string("a\u{0}b")) == .rejected(["must not contain NUL characters"]))
    }

    @Test func maxLengthCountsUnicodeScalarsNotBytes() {
        let threeChars = spec(SQLType(.text)) { $0.maxLength = 3 }
        #expect(check(threeChars, .string("日本語")) == .bound("日本語"))  // 9 UTF-8 bytes
        #expect(check(threeChars, .string("日本語x")) == .rejected(["must be at most 3 characters"]))
        // One grapheme, two scalars: PostgreSQL counts two characters.
        let oneChar = spec(SQLType(.text)) { $0.maxLength = 1 }
        #expect(check(oneChar, .string("👍🏽")) == .rejected(["must be at most 1 characters"]))
    }

    @Test func varcharModifierLimitsLength() {
        let varchar5 = SQLType(.varchar, modifier: "5")
        #expect(check(varchar5, .string("héllo")) == .bound("héllo"))
        #expect(check(varchar5, .string("héllos")) == .rejected(["must be at most 5 characters"]))
        // The tighter of maxLength and the modifier wins, reported once.
        let tighter = spec(varchar5) { $0.maxLength = 3 }
        #expect(check(tighter, .string("abcd")) == .rejected(["must be at most 3 characters"]))
    }

    // MARK: Booleans, dates, timestamps, UUIDs

    @Test func booleanTakesTrueOrFalseOnly() {
        #expect(check(SQLType(.boolean), .bool(true)) == .bound("true"))
        #expect(check(SQLType(.boolean), .bool(false)) == .bound("false"))
        #expect(check(SQLType(.boolean), .string("true")) == .rejected(["must be true or false"]))
        #expect(check(SQLType(.boolean), .number("1")) == .rejected(["must be true or false"]))
    }

    @Test(arguments: ["2026-01-31", "2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31", "2026-04-30"])
    func realCalendarDatesAreAccepted(text: String) {
        #expect(check(SQLType(.date), .string(text)) == .bound(text))
    }

    @Test(arguments: [
        "2026-02-30", "2023-02-29", "1900-02-29", "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00",
        "0000-01-01", "2026-1-01", "26-01-01", "2026/01/01", "2026-01-01T00:00", "2026-01-01 ", "",
    ])
    func impossibleOrMalformedDatesAreRejected(text: String) {
        #expect(check(SQLType(.date), .string(text)) == .rejected(["must be a date (YYYY-MM-DD)"]))
    }

    @Test func datesMustBeStrings() {
        #expect(check(SQLType(.date), .number("20260131")) == .rejected(["must be a date (YYYY-MM-DD)"]))
    }

    @Test(arguments: [
        "2026-01-31", "2026-01-31T13:45", "2026-01-31 13:45", "2026-01-31T13:45:59", "2026-01-31T00:00:00.5",
        "2026-01-31T23:59:59.123456", "2026-01-31T13:45:00Z", "2026-01-31T13:45+02", "2026-01-31T13:45:00-05:30",
        "2026-01-31T13:45:00.1+0530", "2026-01-31 13:45:00+14:00",
    ])
    func timestampFormsAreAccepted(text: String) {
        #expect(check(SQLType(.timestamptz), .string(text)) == .bound(text))
        #expect(check(SQLType(.timestamp), .string(text)) == .bound(text))
    }

    @Test(arguments: [
        "2026-01-31T24:00", "2026-01-31T12:60", "2026-01-31T12:00:60", "2026-01-31T1:00", "2026-01-31T12",
        "2026-01-31T12:00:00.", "2026-01-31T12:00:00.1234567", "2026-01-31T12:00.5", "2026-01-31X12:00",
        "2026-02-30T12:00", "2026-01-31T12:00Z+01", "2026-01-31T12:00+1", "2026-01-31T12:00+01:",
        "2026-01-31T12:00+01:60",
        "2026-01-31T12:00+16:00", "2026-01-31T12:00 UTC", "2026-01-31T12:00:00z", "2026-01-31T",
    ])
    func malformedTimestampsAreRejected(text: String) {
        let outcome = check(SQLType(.timestamptz), .string(text))
        guard case .rejected(let messages) = outcome else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(messages.count == 1)
        #expect(messages.first?.hasPrefix("must be an ISO 8601 timestamp") == true)
    }

    @Test func uuidsAreCheckedForShape() {
        let lower = "123e4567-e89b-12d3-a456-426614174000"
        let upper = "123E4567-E89B-12D3-A456-426614174000"
        #expect(check(SQLType(.uuid), .string(lower)) == .bound(lower))
        #expect(check(SQLType(.uuid), .string(upper)) == .bound(upper))
        for bad in [
            "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g",
            "123e4567-e89b-12d3-a456-4266141740000", "{123e4567-e89b-12d3-a456-426614174000}", "",
        ] {
            #expect(check(SQLType(.uuid), .string(bad)) == .rejected(["must be a UUID"]))
        }
        #expect(check(SQLType(.uuid), .number("1")) == .rejected(["must be a UUID"]))
    }

    // MARK: JSON

    @Test func jsonEmbedsAnyValueSerialised() {
        let document = JSONValue.object([
            "a": .array([.number("1"), .number("12345678901234567890.50")]), "b": .string("x\"y"), "c": .null,
        ])
        #expect(check(SQLType(.jsonb), document) == .bound(#"{"a":[1,12345678901234567890.50],"b":"x\"y","c":null}"#))
        #expect(check(SQLType(.json), .string("hi")) == .bound(#""hi""#))
        #expect(check(SQLType(.json), .number("7")) == .bound("7"))
        #expect(check(SQLType(.jsonb), .array([])) == .bound("[]"))
    }

    // MARK: Arrays

    @Test func arraysBecomeQuotedPostgresLiterals() {
        let tags = SQLType(.text, isArray: true)
        let value = JSONValue.array([.string(#"a"b\c"#), .null, .string("x,y"), .string("NULL"), .string("{}")])
        #expect(check(tags, value) == .bound(#"{"a\"b\\c",NULL,"x,y","NULL","{}"}"#))
        #expect(check(tags, .array([])) == .bound("{}"))
        #expect(
            check(SQLType(.bigint, isArray: true), .array([.number("1"), .string("-2")])) == .bound(#"{"1","-2"}"#))
        #expect(check(SQLType(.boolean, isArray: true), .array([.bool(true), .null])) == .bound(#"{"true",NULL}"#))
    }

    @Test func jsonArrayElementsAreSerialisedThenQuoted() {
        let value = JSONValue.array([.object(["k": .string("v")]), .array([.number("1")]), .null])
        #expect(check(SQLType(.jsonb, isArray: true), value) == .bound(#"{"{\"k\":\"v\"}","[1]",NULL}"#))
    }

    @Test func arrayElementProblemsNameTheElement() {
        let tags = ParameterSpec(name: "tags", type: SQLType(.integer, isArray: true), required: true)
        let body = JSONValue.object(["tags": .array([.number("1"), .null, .string("x"), .array([]), .number("2.5")])])
        let found = problems(ParameterValidator(parameters: [tags]).validate(body))
        let integerMessage = "must be an integer between -2147483648 and 2147483647"
        #expect(
            found == [
                ParameterProblem(parameter: "tags[2]", problem: integerMessage),
                ParameterProblem(parameter: "tags[3]", problem: "nested arrays are not supported"),
                ParameterProblem(parameter: "tags[4]", problem: integerMessage),
            ])
    }

    @Test func arraysMustBeArraysAndMaxLengthCountsElements() {
        let tags = spec(SQLType(.text, isArray: true)) { $0.maxLength = 2 }
        #expect(check(tags, .string("a")) == .rejected(["must be an array"]))
        #expect(check(tags, .array([.string("long string"), .string("b")])) == .bound(#"{"long string","b"}"#))
        let three = JSONValue.array([.string("a"), .string("b"), .string("c")])
        #expect(check(tags, three) == .rejected(["must have at most 2 elements"]))
    }

    @Test func arrayElementsMeetPatternAndVarcharModifier() {
        let codes = spec(SQLType(.varchar, isArray: true, modifier: "3")) { $0.pattern = "[a-z]+" }
        #expect(check(codes, .array([.string("abc"), .string("de")])) == .bound(#"{"abc","de"}"#))
        let body = JSONValue.object(["p": .array([.string("abcd"), .string("A")])])
        #expect(
            problems(ParameterValidator(parameters: [codes]).validate(body)) == [
                ParameterProblem(parameter: "p[0]", problem: "must be at most 3 characters"),
                ParameterProblem(parameter: "p[1]", problem: "must match pattern [a-z]+"),
            ])
    }

    // MARK: Presence, defaults and null

    @Test func requiredParametersMustBePresentAndNotNull() {
        let id = ParameterSpec(name: "p_id", type: SQLType(.integer), required: true)
        let validator = ParameterValidator(parameters: [id])
        #expect(
            problems(validator.validate(.object([]))) == [
                ParameterProblem(parameter: "p_id", problem: "is required")
            ])
        #expect(
            problems(validator.validate(.object(["p_id": .null]))) == [
                ParameterProblem(parameter: "p_id", problem: "is required and cannot be null")
            ])
    }

    @Test func explicitNullBindsSQLNullForOptionalParameters() {
        // Constraints apply to values, not to NULL.
        let note = ParameterSpec(
            name: "p_note", type: SQLType(.integer), pattern: "[0-9]+", allowedValues: [.number("1")])
        let result = ParameterValidator(parameters: [note]).validate(.object(["p_note": .null]))
        #expect(bound(result) == [BoundParameter(spec: note, text: nil, value: .null)])
    }

    @Test func absentOptionalWithoutDefaultIsLeftOut() {
        let optional = ParameterSpec(name: "p_opt", type: SQLType(.text))
        let other = ParameterSpec(name: "p_id", type: SQLType(.integer), required: true)
        let result = ParameterValidator(parameters: [optional, other]).validate(.object(["p_id": .number("3")]))
        #expect(bound(result) == [BoundParameter(spec: other, text: "3", value: .number("3"))])
        #expect(bound(ParameterValidator(parameters: [optional]).validate(.object([]))) == [])
    }

    @Test func absentParameterWithDefaultBindsTheDefault() {
        let limit = ParameterSpec(name: "p_limit", type: SQLType(.integer), defaultValue: .number("10"))
        let status = ParameterSpec(name: "p_status", type: SQLType(.text), defaultValue: .null)
        let validator = ParameterValidator(parameters: [limit, status])
        #expect(
            bound(validator.validate(.object([]))) == [
                BoundParameter(spec: limit, text: "10", value: .number("10")),
                BoundParameter(spec: status, text: nil, value: .null),
            ])
        // A supplied value wins over the default.
        #expect(bound(validator.validate(.object(["p_limit": .string("25")])))?.first?.text == "25")
    }

    @Test func invalidDefaultIsReportedAsTheDefault() {
        let limit = ParameterSpec(name: "p_limit", type: SQLType(.integer), defaultValue: .number("100"), maximum: "50")
        let found = problems(ParameterValidator(parameters: [limit]).validate(.object([])))
        #expect(found == [ParameterProblem(parameter: "p_limit", problem: "default value must be at most 50")])
    }

    @Test func resultFollowsConfigurationOrderNotBodyOrder() {
        let a = ParameterSpec(name: "a", type: SQLType(.integer))
        let b = ParameterSpec(name: "b", type: SQLType(.text))
        let result = ParameterValidator(parameters: [a, b]).validate(.object(["b": .string("x"), "a": .number("1")]))
        #expect(bound(result)?.map(\.spec.name) == ["a", "b"])
    }

    // MARK: Body shape and names

    @Test(arguments: [JSONValue.array([]), .null, .string("{}"), .number("1"), .bool(true)])
    func bodyMustBeAnObject(body: JSONValue) {
        let validator = ParameterValidator(parameters: [ParameterSpec(name: "p", type: SQLType(.text))])
        #expect(
            problems(validator.validate(body)) == [
                ParameterProblem(parameter: nil, problem: "the body must be a JSON object of parameters")
            ])
    }

    @Test func unknownParametersListTheAcceptedNames() {
        let validator = ParameterValidator(parameters: [
            ParameterSpec(name: "p_id", type: SQLType(.integer)),
            ParameterSpec(name: "p_total", type: SQLType(.numeric), direction: .out),
            ParameterSpec(name: "p_name", type: SQLType(.text), direction: .inout),
        ])
        #expect(
            problems(validator.validate(.object(["p_idd": .number("1")]))) == [
                ParameterProblem(parameter: "p_idd", problem: "unknown parameter; accepted: p_id, p_name")
            ])
        let none = ParameterValidator(parameters: [])
        #expect(
            problems(none.validate(.object(["x": .null]))).map(\.problem) == [
                "unknown parameter; this procedure takes no parameters"
            ])
        #expect(bound(none.validate(.object([]))) == [])
    }

    @Test func outputParametersCannotBeSuppliedButInoutAreBound() {
        let out = ParameterSpec(name: "p_total", type: SQLType(.numeric), direction: .out)
        let inOut = ParameterSpec(name: "p_count", type: SQLType(.integer), direction: .inout, required: true)
        let validator = ParameterValidator(parameters: [out, inOut])
        #expect(
            problems(validator.validate(.object(["p_total": .number("1"), "p_count": .number("2")]))) == [
                ParameterProblem(parameter: "p_total", problem: "is an output parameter and cannot be supplied")
            ])
        #expect(
            bound(validator.validate(.object(["p_count": .number("2")]))) == [
                BoundParameter(spec: inOut, text: "2", value: .number("2"))
            ])
    }

    @Test func repeatedMembersAreRejected() {
        let validator = ParameterValidator(parameters: [ParameterSpec(name: "p", type: SQLType(.integer))])
        let body = JSONValue.object([JSONValue.Member("p", .number("1")), JSONValue.Member("p", .number("2"))])
        #expect(
            problems(validator.validate(body)) == [
                ParameterProblem(parameter: "p", problem: "must be given only once")
            ])
    }

    /// Repeats are told apart by the parameter's position, in a bit mask for the first 64 and a
    /// set beyond: every position of a long list is checked, each repeat reported once.
    @Test func repeatedMembersAreRejectedAtEveryPositionOfALongList() {
        let specs = (0..<100).map { ParameterSpec(name: "p\($0)", type: SQLType(.integer)) }
        let validator = ParameterValidator(parameters: specs)
        let once = JSONValue.object(specs.map { JSONValue.Member($0.name, .number("1")) })
        #expect(bound(validator.validate(once))?.count == 100)
        let repeated = [0, 62, 63, 64, 65, 99]
        let body = JSONValue.object(
            specs.map { JSONValue.Member($0.name, .number("1")) }
                + repeated.map { JSONValue.Member("p\($0)", .number("2")) })
        #expect(
            problems(validator.validate(body))
                == repeated.map {
                    ParameterProblem(parameter: "p\($0)", problem: "must be given only once")
                })
    }

    @Test func everyProblemIsReportedTogether() {
        let validator = ParameterValidator(parameters: [
            ParameterSpec(name: "p_id", type: SQLType(.bigint), required: true),
            ParameterSpec(name: "p_name", type: SQLType(.text), required: true, maxLength: 3, pattern: "[a-z]+"),
            ParameterSpec(name: "p_when", type: SQLType(.date)),
            ParameterSpec(name: "p_count", type: SQLType(.integer), minimum: "1"),
        ])
        let body = JSONValue.object([
            "p_extra": .bool(true), "p_name": .string("ABCD"), "p_when": .string("2026-02-30"), "p_count": .number("0"),
        ])
        #expect(
            problems(validator.validate(body)) == [
                ParameterProblem(
                    parameter: "p_extra", problem: "unknown parameter; accepted: p_id, p_name, p_when, p_count"),
                ParameterProblem(parameter: "p_id", problem: "is required"),
                // Length first: a value too long is not matched against the pattern at all.
                ParameterProblem(parameter: "p_name", problem: "must be at most 3 characters"),
                ParameterProblem(parameter: "p_when", problem: "must be a date (YYYY-MM-DD)"),
                ParameterProblem(parameter: "p_count", problem: "must be at least 1"),
            ])
    }

    // MARK: Minimum and maximum

    @Test func boundsCompareBigIntegersExactly() {
        let capped = spec(SQLType(.bigint)) {
            $0.minimum = "-9223372036854775807"
            $0.maximum = "9223372036854775806"
        }
        #expect(check(capped, .number("9223372036854775806")) == .bound("9223372036854775806"))
        #expect(check(capped, .number("9223372036854775807")) == .rejected(["must be at most 9223372036854775806"]))
        #expect(check(capped, .number("-9223372036854775807")) == .bound("-9223372036854775807"))
        #expect(check(capped, .string("-9223372036854775808")) == .rejected(["must be at least -9223372036854775807"]))
    }

    @Test func boundsCompareDecimalsExactly() {
        // These two are the same Double; only an exact comparison tells them apart.
        let capped = spec(SQLType(.numeric)) { $0.maximum = "12345678901234567890.123456788" }
        #expect(
            check(capped, .number("12345678901234567890.123456789"))
                == .rejected(["must be at most 12345678901234567890.123456788"]))
        let trailingZeros = "12345678901234567890.1234567880000"
        #expect(check(capped, .number(trailingZeros)) == .bound(trailingZeros))
        let ranged = spec(SQLType(.numeric)) {
            $0.minimum = "-0.5"
            $0.maximum = "1e3"
        }
        #expect(check(ranged, .number("-0.50")) == .bound("-0.50"))
        #expect(check(ranged, .number("-0.51")) == .rejected(["must be at least -0.5"]))
        #expect(check(ranged, .string("1000.000")) == .bound("1000.000"))
        #expect(check(ranged, .number("1.0000001E3")) == .rejected(["must be at most 1e3"]))
        #expect(check(ranged, .number("-0")) == .bound("-0"))
    }

    @Test(arguments: [
        ("1", "2", -1), ("2", "1", 1), ("1.0", "1", 0), ("-0", "0", 0), ("0.000", "-0.0", 0),
        ("-1", "1", -1), ("-2", "-1", -1), ("0.5", "0.49", 1), ("0.5", "0.51", -1), ("10", "9.99", 1),
        ("9223372036854775807", "9223372036854775806", 1), ("1e2", "100", 0), ("1.5e2", "149.99", 1),
        ("-1e-2", "-0.01", 0), ("123e-5", "0.00123", 0), ("00012", "12.000", 0), ("1e999999999999", "1", 1),
    ])
    func exactDecimalComparison(a: String, b: String, expected: Int) {
        #expect(ParameterValidator.DecimalText.compare(a, b) == expected)
        #expect(ParameterValidator.DecimalText.compare(b, a) == -expected)
    }

    @Test func unusableBoundsAreConfigurationProblems() {
        let validator = ParameterValidator(parameters: [
            ParameterSpec(name: "p", type: SQLType(.integer), minimum: "one", maximum: "10")
        ])
        #expect(
            problems(validator.validate(.object(["p": .number("5")]))) == [
                ParameterProblem(parameter: "p", problem: "invalid minimum in configuration")
            ])
    }

    // MARK: Patterns and allowed values

    @Test func patternsMustMatchTheWholeString() {
        let letters = spec(SQLType(.text)) { $0.pattern = "[a-z]+" }
        #expect(check(letters, .string("abc")) == .bound("abc"))
        #expect(check(letters, .string("abc1")) == .rejected(["must match pattern [a-z]+"]))
        #expect(check(letters, .string("1abc")) == .rejected(["must match pattern [a-z]+"]))
        // Anchoring must not bind tighter than the pattern's own alternation.
        let either = spec(SQLType(.text)) { $0.pattern = "a|ab" }
        #expect(check(either, .string("ab")) == .bound("ab"))
        #expect(check(either, .string("abc")) == .rejected(["must match pattern a|ab"]))
        let anchored = spec(SQLType(.text)) { $0.pattern = "^[a-z]+$" }
        #expect(check(anchored, .string("abc\n")) == .rejected(["must match pattern ^[a-z]+$"]))
    }

    @Test func aPathologicalPatternAnswersInMilliseconds() {
        // NSRegularExpression (used before) spent seconds on the second value: ICU backtracks.
        let nested = spec(SQLType(.text)) { $0.pattern = "([a-z]+)+$" }
        let letters = String(repeating: "a", count: 10_000)
        let started = ContinuousClock.now
        #expect(check(nested, .string(letters)) == .bound(letters))
        #expect(check(nested, .string(letters + "!")) == .rejected(["must match pattern ([a-z]+)+$"]))
        // A backtracking engine takes time exponential in the length here (centuries); a linear one
        // milliseconds. The bound is that wide so a busy machine running tests in parallel passes.
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func lengthIsCheckedBeforeThePattern() {
        let short = spec(SQLType(.text)) {
            $0.maxLength = 5
            $0.pattern = "([a-z]+)+$"
        }
        #expect(check(short, .string("abcdef!")) == .rejected(["must be at most 5 characters"]))
        let unbounded = spec(SQLType(.text)) { $0.pattern = ".*" }
        let huge = String(repeating: "x", count: WholeStringPattern.maxValueLength + 1)
        #expect(
            check(unbounded, .string(huge))
                == .rejected(["must be at most 100000 characters to be matched against its pattern"]))
    }

    @Test func aPatternNeedingBacktrackingFailsClosed() {
        // Writes refuse it; one stored before is reported instead of being matched some other way.
        let spec = ParameterSpec(name: "p_code", type: SQLType(.text), pattern: "(a)\\1")
        let result = ParameterValidator(parameters: [spec]).validate(.object(["p_code": .string("aa")]))
        #expect(
            problems(result) == [ParameterProblem(parameter: "p_code", problem: "invalid pattern in configuration")])
    }

    @Test func invalidConfiguredPatternIsReportedOnEveryValidation() {
        for pattern in ["([a-z", "a)|(b", "*"] {
            let spec = ParameterSpec(name: "p_code", type: SQLType(.text), pattern: pattern)
            let validator = ParameterValidator(parameters: [spec])
            let expected = [ParameterProblem(parameter: "p_code", problem: "invalid pattern in configuration")]
            #expect(problems(validator.validate(.object(["p_code": .string("abc")]))) == expected)
            #expect(problems(validator.validate(.object([]))) == expected)
        }
    }

    @Test func allowedValuesCompareStringsExactly() {
        let status = spec(SQLType(.text)) { $0.allowedValues = [.string("a"), .string("b")] }
        #expect(check(status, .string("b")) == .bound("b"))
        #expect(check(status, .string("B")) == .rejected([#"must be one of: "a", "b""#]))
        #expect(check(status, .string("a ")) == .rejected([#"must be one of: "a", "b""#]))
    }

    @Test func allowedValuesCompareNumbersByValue() {
        let rate = spec(SQLType(.numeric)) { $0.allowedValues = [.number("1.50"), .number("2")] }
        #expect(check(rate, .number("1.5")) == .bound("1.5"))
        #expect(check(rate, .string("2.000")) == .bound("2.000"))
        #expect(check(rate, .number("1.51")) == .rejected(["must be one of: 1.50, 2"]))
        let level = spec(SQLType(.integer)) { $0.allowedValues = [.number("7"), .string("9")] }
        #expect(check(level, .string("007")) == .bound("7"))
        #expect(check(level, .number("9")) == .bound("9"))
        #expect(check(level, .number("8")) == .rejected([#"must be one of: 7, "9""#]))
    }

    @Test func allowedValuesForBooleansAndJSON() {
        let flag = spec(SQLType(.boolean)) { $0.allowedValues = [.bool(true)] }
        #expect(check(flag, .bool(true)) == .bound("true"))
        #expect(check(flag, .bool(false)) == .rejected(["must be one of: true"]))
        let doc = spec(SQLType(.jsonb)) { $0.allowedValues = [.object(["a": .number("1")])] }
        #expect(check(doc, .object(["a": .number("1")])) == .bound(#"{"a":1}"#))
        #expect(check(doc, .object(["a": .number("2")])) == .rejected([#"must be one of: {"a":1}"#]))
    }

    @Test func eachViolatedConstraintIsReported() {
        let code = spec(SQLType(.integer)) {
            $0.minimum = "10"
            $0.pattern = "[0-9]{2}"
            $0.allowedValues = [.number("10"), .number("20")]
        }
        #expect(
            check(code, .number("5"))
                == .rejected([
                    "must be at least 10", "must match pattern [0-9]{2}", "must be one of: 10, 20",
                ]))
    }

    @Test func problemsNeverEchoTheClientsValue() {
        let secret = "hunter2-Sup3rSecret"
        let validator = ParameterValidator(parameters: [
            ParameterSpec(
                name: "p_pw", type: SQLType(.text), maxLength: 4, pattern: "[a-z]+",
                allowedValues: [.string("x")]),
            ParameterSpec(name: "p_n", type: SQLType(.integer)),
            ParameterSpec(name: "p_d", type: SQLType(.date)),
        ])
        let body = JSONValue.object(["p_pw": .string(secret), "p_n": .string(secret), "p_d": .string(secret)])
        let found = problems(validator.validate(body))
        #expect(found.count == 4)
        #expect(found.allSatisfy { !$0.problem.contains(secret) })
    }
}
