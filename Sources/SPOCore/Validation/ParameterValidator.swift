import Foundation
import SPOJSON

/// One reason a request's parameters were rejected; rendered into the error's `details`.
///
/// Messages are short lowercase phrases that say what is expected ("must be at most 10"). They
/// never repeat the client's value, which may be a secret.
public struct ParameterProblem: Sendable, Equatable {
    /// The parameter (or array element, as `name[index]` with a 0-based index) the problem is
    /// about; nil when it concerns the body as a whole.
    public var parameter: String?
    public var problem: String

    public init(parameter: String?, problem: String) {
        self.parameter = parameter
        self.problem = problem
    }
}

/// A validated input parameter ready to bind.
public struct BoundParameter: Sendable, Equatable {
    public var spec: ParameterSpec
    /// The value in PostgreSQL text form, meant for a `$n::type` cast; nil means SQL NULL.
    public var text: String?
    /// The effective JSON value (the client's, or the configured default), for the audit log.
    public var value: JSONValue

    public init(spec: ParameterSpec, text: String?, value: JSONValue) {
        self.spec = spec
        self.text = text
        self.value = value
    }
}

/// Why a request body was rejected: every problem found, in a stable order (body-level and
/// member-name problems first, then each parameter in configuration order).
public struct ValidationFailure: Error, Sendable, Equatable {
    public var problems: [ParameterProblem]

    public init(problems: [ParameterProblem]) {
        self.problems = problems
    }
}

/// Checks a client's JSON parameters against a procedure's configured parameters and turns them
/// into PostgreSQL text-format values.
///
/// Guarantees of `validate(_:)` on success:
/// - there is one `BoundParameter` per input (IN or INOUT) parameter, in configuration order,
///   except optional parameters that are absent and have no default, which are left out so the
///   procedure's own SQL default applies;
/// - every non-nil `text` is valid input for the parameter's type cast (numbers keep every digit
///   of their literal; integers are canonical; arrays are PostgreSQL array literals) and contains
///   no NUL character (libpq would silently truncate it there);
/// - every configured constraint (minimum, maximum, maxLength, pattern, allowed values) holds.
public struct ParameterValidator: Sendable {
    public let parameters: [ParameterSpec]
    /// Whole-string matchers for configured patterns, compiled once, by parameter name.
    private let patterns: [String: WholeStringPattern]
    /// Mistakes in the configuration itself, reported by every `validate(_:)` so they surface
    /// on the first request instead of crashing or being silently ignored.
    private let configurationProblems: [ParameterProblem]

    public init(parameters: [ParameterSpec]) {
        self.parameters = parameters
        var patterns: [String: WholeStringPattern] = [:]
        var problems: [ParameterProblem] = []
        for spec in parameters {
            if let pattern = spec.pattern {
                // Writes refuse such patterns; one stored before (or by hand) fails closed.
                if case .success(let compiled) = WholeStringPattern.compile(pattern) {
                    patterns[spec.name] = compiled
                } else {
                    problems.append(ParameterProblem(parameter: spec.name, problem: "invalid pattern in configuration"))
                }
            }
            problems += Self.boundProblems(spec)
        }
        self.patterns = patterns
        self.configurationProblems = problems
    }

    /// Validates a request body. Reports every problem, not just the first.
    public func validate(_ body: JSONValue) -> Result<[BoundParameter], ValidationFailure> {
        guard let members = body.members else {
            let problem = ParameterProblem(parameter: nil, problem: "the body must be a JSON object of parameters")
            return .failure(ValidationFailure(problems: [problem]))
        }
        var problems = configurationProblems
        problems += memberNameProblems(members)
        var bound: [BoundParameter] = []
        for spec in parameters where spec.direction.isInput {
            let supplied = members.first { $0.key == spec.name }?.value
            if let parameter = resolve(spec, supplied: supplied, problems: &problems) {
                bound.append(parameter)
            }
        }
        return problems.isEmpty ? .success(bound) : .failure(ValidationFailure(problems: problems))
    }

    // MARK: - Body members

    /// Problems with the member names themselves: unknown, output-only, or repeated.
    private func memberNameProblems(_ members: [JSONValue.Member]) -> [ParameterProblem] {
        var problems: [ParameterProblem] = []
        // Which parameters were seen, by position: a bit each for the first 64 (no allocation and
        // no hashing on every call), a set for the rest.
        var seenBits: UInt64 = 0
        var seenBeyond: Set<Int> = []
        func firstSight(_ index: Int) -> Bool {
            guard index < 64 else { return seenBeyond.insert(index).inserted }
            defer { seenBits |= 1 << index }
            return seenBits & (1 << index) == 0
        }
        for member in members {
            guard let index = parameters.firstIndex(where: { $0.name == member.key }) else {
                problems.append(ParameterProblem(parameter: member.key, problem: unknownParameterMessage))
                continue
            }
            if !parameters[index].direction.isInput {
                problems.append(
                    ParameterProblem(
                        parameter: member.key, problem: "is an output parameter and cannot be supplied"))
            } else if !firstSight(index) {
                // A repeated key is ambiguous: parsers disagree on which one wins.
                problems.append(ParameterProblem(parameter: member.key, problem: "must be given only once"))
            }
        }
        return problems
    }

    private var unknownParameterMessage: String {
        let accepted = parameters.filter { $0.direction.isInput }.map(\.name)
        if accepted.isEmpty { return "unknown parameter; this procedure takes no parameters" }
        return "unknown parameter; accepted: " + accepted.joined(separator: ", ")
    }

    // MARK: - One parameter

    /// The bound parameter for `spec`, or nil when it is left out (optional and absent) or when
    /// problems were found (appended to `problems`).
    private func resolve(
        _ spec: ParameterSpec, supplied: JSONValue?, problems: inout [ParameterProblem]
    ) -> BoundParameter? {
        let isDefault = supplied == nil
        guard let value = supplied ?? spec.defaultValue else {
            if spec.required { problems.append(ParameterProblem(parameter: spec.name, problem: "is required")) }
            return nil
        }
        if value == .null {
            guard !spec.required else {
                problems.append(ParameterProblem(parameter: spec.name, problem: "is required and cannot be null"))
                return nil
            }
            return BoundParameter(spec: spec, text: nil, value: .null)
        }
        var found: [ParameterProblem] = []
        let text =
            spec.type.isArray
            ? arrayText(value, spec: spec, problems: &found)
            : elementText(value, spec: spec, label: spec.name, problems: &found)
        if isDefault {
            // Say so, or the client is told to fix a value it never sent.
            found = found.map { ParameterProblem(parameter: $0.parameter, problem: "default value " + $0.problem) }
        }
        problems += found
        guard found.isEmpty, let text else { return nil }
        return BoundParameter(spec: spec, text: text, value: value)
    }

    /// A PostgreSQL array literal for an array-typed parameter, checking each element.
    private func arrayText(_ value: JSONValue, spec: ParameterSpec, problems: inout [ParameterProblem]) -> String? {
        guard let items = value.arrayValue else {
            problems.append(ParameterProblem(parameter: spec.name, problem: "must be an array"))
            return nil
        }
        if let limit = spec.maxLength, items.count > limit {
            problems.append(ParameterProblem(parameter: spec.name, problem: "must have at most \(limit) elements"))
        }
        let elementIsJSON = spec.type.base == .json || spec.type.base == .jsonb
        var texts: [String?] = []
        for (index, item) in items.enumerated() {
            let label = "\(spec.name)[\(index)]"
            if item == .null {
                texts.append(nil)
            } else if item.arrayValue != nil && !elementIsJSON {
                problems.append(ParameterProblem(parameter: label, problem: "nested arrays are not supported"))
            } else {
                texts.append(elementText(item, spec: spec, label: label, problems: &problems))
            }
        }
        return ArrayLiteral.make(texts)
    }

    /// The text of one non-null scalar (or array element), type-checked and then checked
    /// against every constraint that applies to it.
    private func elementText(
        _ value: JSONValue, spec: ParameterSpec, label: String, problems: inout [ParameterProblem]
    ) -> String? {
        switch ScalarConversion.text(of: value, as: spec.type.element) {
        case .failure(let message):
            problems.append(ParameterProblem(parameter: label, problem: message.text))
            return nil
        case .success(let text):
            let messages = constraintProblems(text: text, value: value, spec: spec)
            problems += messages.map { ParameterProblem(parameter: label, problem: $0) }
            return messages.isEmpty ? text : nil
        }
    }

    // MARK: - Constraints

    /// Every configured constraint `text` (already type-checked) violates.
    private func constraintProblems(text: String, value: JSONValue, spec: ParameterSpec) -> [String] {
        var messages: [String] = []
        let base = spec.type.base
        if Self.isNumeric(base) {
            if let minimum = spec.minimum, let order = DecimalText.compare(text, minimum), order < 0 {
                messages.append("must be at least \(minimum)")
            }
            if let maximum = spec.maximum, let order = DecimalText.compare(text, maximum), order > 0 {
                messages.append("must be at most \(maximum)")
            }
        }
        var tooLong = false
        if base == .text || base == .varchar, let limit = lengthLimit(spec), text.unicodeScalars.count > limit {
            messages.append("must be at most \(limit) characters")
            tooLong = true
        }
        // Length first: a value already refused is not matched at all.
        if !Self.isJSON(base), !tooLong, let compiled = patterns[spec.name], let pattern = spec.pattern {
            if text.unicodeScalars.count > WholeStringPattern.maxValueLength {
                messages.append(
                    "must be at most \(WholeStringPattern.maxValueLength) characters to be matched against its pattern")
            } else if !compiled.matches(text) {
                messages.append("must match pattern \(pattern)")
            }
        }
        if let allowed = spec.allowedValues,
            !allowed.contains(where: { Self.matches($0, text: text, value: value, base) })
        {
            messages.append("must be one of: " + allowed.map { $0.serialized() }.joined(separator: ", "))
        }
        return messages
    }

    /// The character limit of a string: `maxLength`, tightened by `varchar(n)`. For arrays
    /// `maxLength` counts elements instead, so only the modifier limits each element.
    private func lengthLimit(_ spec: ParameterSpec) -> Int? {
        let modifierLimit = spec.type.base == .varchar ? spec.type.modifier.flatMap { Int($0) } : nil
        let configured = spec.type.isArray ? nil : spec.maxLength
        switch (configured, modifierLimit) {
        case let (a?, b?): return min(a, b)
        case let (a, b): return a ?? b
        }
    }

    /// Whether an allowed value equals the client's: numbers by exact numeric value, JSON types
    /// structurally, everything else by its text form.
    private static func matches(_ allowed: JSONValue, text: String, value: JSONValue, _ base: SQLType.Base) -> Bool {
        if Self.isJSON(base) { return allowed == value }
        switch allowed {
        case .number(let literal) where Self.isNumeric(base): return DecimalText.compare(text, literal) == 0
        case .string(let literal) where Self.isNumeric(base): return DecimalText.compare(text, literal) == 0
        case .string(let literal): return literal == text
        case .bool(let flag): return base == .boolean && (flag ? "true" : "false") == text
        default: return false
        }
    }

    // MARK: - Configuration

    /// Bounds that cannot be compared with anything are configuration mistakes.
    private static func boundProblems(_ spec: ParameterSpec) -> [ParameterProblem] {
        var problems: [ParameterProblem] = []
        for (kind, bound) in [("minimum", spec.minimum), ("maximum", spec.maximum)] {
            if let bound, !DecimalText.isLiteral(bound) {
                problems.append(ParameterProblem(parameter: spec.name, problem: "invalid \(kind) in configuration"))
            }
        }
        return problems
    }
}

// The helpers below are nested in `ParameterValidator` so their names cannot collide with
// other types of the module.

// MARK: - Scalar conversion

extension ParameterValidator {
    static func isNumeric(_ base: SQLType.Base) -> Bool {
        switch base {
        case .smallint, .integer, .bigint, .numeric, .real, .doublePrecision: true
        default: false
        }
    }

    static func isJSON(_ base: SQLType.Base) -> Bool { base == .json || base == .jsonb }

    /// A type-check failure message (a type so it can sit in a `Result`).
    struct ConversionProblem: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }
}

extension ParameterValidator {
    /// Type rules: a non-null JSON value to the PostgreSQL text form of one scalar type.
    enum ScalarConversion {
        static func text(of value: JSONValue, as type: SQLType) -> Result<String, ConversionProblem> {
            switch type.base {
            case .smallint: return integer(value, min: Int64(Int16.min), max: Int64(Int16.max))
            case .integer: return integer(value, min: Int64(Int32.min), max: Int64(Int32.max))
            case .bigint: return integer(value, min: Int64.min, max: Int64.max)
            case .numeric: return numeric(value)
            case .real: return floating(value, typeName: "real") { Float($0).map(Double.init) }
            case .doublePrecision: return floating(value, typeName: "double precision") { Double($0) }
            case .text, .varchar: return string(value)
            case .boolean:
                guard let flag = value.boolValue else { return .failure(ConversionProblem("must be true or false")) }
                return .success(flag ? "true" : "false")
            case .date:
                return checkedString(value, TemporalText.isDate, "must be a date (YYYY-MM-DD)")
            case .timestamp, .timestamptz:
                let expected = "must be an ISO 8601 timestamp (YYYY-MM-DDTHH:MM[:SS[.ffffff]], optional zone)"
                return checkedString(value, TemporalText.isTimestamp, expected)
            case .uuid: return checkedString(value, isUUID, "must be a UUID")
            case .json, .jsonb: return .success(value.serialized())
            }
        }

        /// An integer given as a JSON number or, for clients whose numbers are doubles, a string.
        /// Range checks use Int64 parsing of the text; a Double would round near 2^63.
        private static func integer(_ value: JSONValue, min: Int64, max: Int64) -> Result<String, ConversionProblem> {
            let literal: String?
            switch value {
            case .number(let text), .string(let text): literal = text
            default: literal = nil
            }
            guard let literal, let canonical = DecimalText.canonicalInteger(literal),
                let number = Int64(canonical), number >= min, number <= max
            else { return .failure(ConversionProblem("must be an integer between \(min) and \(max)")) }
            return .success(canonical)
        }

        /// Arbitrary precision: the literal is passed on exactly as written.
        private static func numeric(_ value: JSONValue) -> Result<String, ConversionProblem> {
            switch value {
            case .number(let text), .string(let text):
                if DecimalText.isLiteral(text) { return .success(text) }
            default: break
            }
            return .failure(ConversionProblem("must be a decimal number"))
        }

        /// A JSON number that the type can hold: PostgreSQL rejects overflow to infinity and
        /// underflow to zero rather than rounding them.
        private static func floating(
            _ value: JSONValue, typeName: String, parse: (String) -> Double?
        ) -> Result<String, ConversionProblem> {
            let failure = ConversionProblem("must be a number within the range of \(typeName)")
            guard case .number(let text) = value, DecimalText.isLiteral(text), let parsed = parse(text),
                parsed.isFinite
            else { return .failure(failure) }
            if parsed == 0, DecimalText.compare(text, "0") != 0 { return .failure(failure) }
            return .success(text)
        }

        private static func string(_ value: JSONValue) -> Result<String, ConversionProblem> {
            guard let text = value.stringValue else { return .failure(ConversionProblem("must be a string")) }
            // Text parameters travel as C strings: libpq would silently cut the value at a NUL.
            guard !text.unicodeScalars.contains("\0") else {
                return .failure(ConversionProblem("must not contain NUL characters"))
            }
            return .success(text)
        }

        private static func checkedString(
            _ value: JSONValue, _ isValid: (String) -> Bool, _ expected: String
        ) -> Result<String, ConversionProblem> {
            guard let text = value.stringValue, isValid(text) else { return .failure(ConversionProblem(expected)) }
            return .success(text)
        }

        /// 8-4-4-4-12 hexadecimal digits, either case.
        static func isUUID(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            guard bytes.count == 36 else { return false }
            for (index, byte) in bytes.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    guard byte == UInt8(ascii: "-") else { return false }
                } else if !ParameterValidator.isHexDigit(byte) {
                    return false
                }
            }
            return true
        }
    }

}

// MARK: - Array literals

extension ParameterValidator {
    /// PostgreSQL array literals (`{"a","b\"c",NULL}`) from element texts.
    enum ArrayLiteral {
        /// Every element is quoted so commas, braces, spaces and the word NULL inside values stay
        /// data; only an unquoted NULL means SQL NULL.
        static func make(_ elements: [String?]) -> String {
            "{" + elements.map { $0.map(quote) ?? "NULL" }.joined(separator: ",") + "}"
        }

        static func quote(_ text: String) -> String {
            var out = "\""
            for character in text.unicodeScalars {
                if character == "\\" || character == "\"" { out.unicodeScalars.append("\\") }
                out.unicodeScalars.append(character)
            }
            return out + "\""
        }
    }

}

// MARK: - Exact decimals

extension ParameterValidator {
    /// Decimal literals compared exactly on their text, never through Double, so that
    /// 9223372036854775807 and 9223372036854775806 (or 0.1 and 0.10000000000000001) stay apart.
    enum DecimalText {
        /// `-?digits(.digits)?([eE][+-]?digits)?`
        static func isLiteral(_ text: String) -> Bool { Parts(text) != nil }

        /// `-?digits` without leading zeros (and `-0` as `0`), or nil when not an integer literal.
        static func canonicalInteger(_ text: String) -> String? {
            let negative = text.hasPrefix("-")
            let digits = text.utf8.dropFirst(negative ? 1 : 0)
            guard !digits.isEmpty, digits.allSatisfy(ParameterValidator.isDigit) else { return nil }
            let significant = String(decoding: digits.drop { $0 == UInt8(ascii: "0") }, as: UTF8.self)
            if significant.isEmpty { return "0" }
            return (negative ? "-" : "") + significant
        }

        /// -1, 0 or 1 as `a` is below, equal to or above `b`; nil when either is not a literal.
        /// Exponents too large to shift exactly fall back to Double.
        static func compare(_ a: String, _ b: String) -> Int? {
            // Most bounds and values are small integers (ids, counts): no normalizing needed.
            if a.utf8.first != UInt8(ascii: "+"), b.utf8.first != UInt8(ascii: "+"), let x = Int(a), let y = Int(b) {
                return x < y ? -1 : (x > y ? 1 : 0)
            }
            if let x = Normalized(a), let y = Normalized(b) { return Normalized.compare(x, y) }
            guard Parts(a) != nil, Parts(b) != nil, let x = Double(a), let y = Double(b) else { return nil }
            return x < y ? -1 : (x > y ? 1 : 0)
        }

        /// The pieces of a literal, as written.
        struct Parts {
            var negative: Bool
            var integer: Substring.UTF8View
            var fraction: Substring.UTF8View
            var exponent: Substring?

            init?(_ text: String) {
                var rest = Substring(text)
                negative = rest.hasPrefix("-")
                if negative { rest = rest.dropFirst() }
                let integerEnd = rest.utf8.firstIndex { !ParameterValidator.isDigit($0) } ?? rest.endIndex
                integer = rest[..<integerEnd].utf8
                rest = rest[integerEnd...]
                guard !integer.isEmpty else { return nil }
                fraction = Substring().utf8
                if rest.hasPrefix(".") {
                    rest = rest.dropFirst()
                    let fractionEnd = rest.utf8.firstIndex { !ParameterValidator.isDigit($0) } ?? rest.endIndex
                    fraction = rest[..<fractionEnd].utf8
                    rest = rest[fractionEnd...]
                    guard !fraction.isEmpty else { return nil }
                }
                exponent = nil
                if rest.hasPrefix("e") || rest.hasPrefix("E") {
                    let digits = rest.dropFirst()
                    let unsigned = digits.hasPrefix("+") || digits.hasPrefix("-") ? digits.dropFirst() : digits
                    guard !unsigned.isEmpty, unsigned.utf8.allSatisfy(ParameterValidator.isDigit) else { return nil }
                    exponent = digits.hasPrefix("+") ? unsigned : digits
                    rest = Substring()
                }
                guard rest.isEmpty else { return nil }
            }
        }

        /// A value as sign × 0.d₁d₂… × 10^exponent with no leading or trailing zero digits, so two
        /// values compare by sign, then exponent, then digits.
        struct Normalized {
            var sign: Int  // -1, 0 or 1
            var digits: [UInt8]
            var exponent: Int

            init?(_ text: String) {
                guard let parts = Parts(text) else { return nil }
                var exponent = 0
                if let written = parts.exponent {
                    // Beyond this the shift could overflow; such values go through Double instead.
                    guard let value = Int(written), abs(value) <= 1_000_000_000 else { return nil }
                    exponent = value
                }
                var digits = Array(parts.integer) + Array(parts.fraction)
                exponent += parts.integer.count
                let leadingZeros = digits.prefix { $0 == UInt8(ascii: "0") }.count
                digits.removeFirst(leadingZeros)
                exponent -= leadingZeros
                while digits.last == UInt8(ascii: "0") { digits.removeLast() }
                if digits.isEmpty {
                    (sign, self.digits, self.exponent) = (0, [], 0)
                } else {
                    (sign, self.digits, self.exponent) = (parts.negative ? -1 : 1, digits, exponent)
                }
            }

            static func compare(_ x: Normalized, _ y: Normalized) -> Int {
                if x.sign != y.sign { return x.sign < y.sign ? -1 : 1 }
                if x.sign == 0 { return 0 }
                let magnitude: Int
                if x.exponent != y.exponent {
                    magnitude = x.exponent < y.exponent ? -1 : 1
                } else if x.digits == y.digits {
                    magnitude = 0
                } else {
                    // Lexicographic order is numeric order here: a shorter prefix is padded with zeros.
                    magnitude = x.digits.lexicographicallyPrecedes(y.digits) ? -1 : 1
                }
                return magnitude * x.sign
            }
        }
    }

}

// MARK: - Dates and timestamps

extension ParameterValidator {
    /// ISO 8601 dates and timestamps in the forms PostgreSQL reads unambiguously.
    enum TemporalText {
        /// `YYYY-MM-DD`, a real calendar date from year 1 (PostgreSQL has no year 0).
        static func isDate(_ text: String) -> Bool {
            var cursor = Cursor(text)
            return cursor.date() && cursor.atEnd
        }

        /// A date alone, or a date, `T` or space, `HH:MM[:SS[.f{1,6}]]`, and an optional zone
        /// (`Z`, `±HH`, `±HH:MM`, `±HHMM`).
        static func isTimestamp(_ text: String) -> Bool {
            var cursor = Cursor(text)
            guard cursor.date() else { return false }
            if cursor.atEnd { return true }
            guard cursor.skip("T") || cursor.skip(" "), cursor.time(), cursor.zone() else { return false }
            return cursor.atEnd
        }

        static func daysInMonth(_ month: Int, year: Int) -> Int {
            switch month {
            case 2:
                let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
                return leap ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }

        /// A cursor over ASCII bytes; each method consumes what it recognised.
        struct Cursor {
            private let bytes: [UInt8]
            private var position = 0

            init(_ text: String) { bytes = Array(text.utf8) }

            var atEnd: Bool { position == bytes.count }

            mutating func skip(_ character: Character) -> Bool {
                guard position < bytes.count, let ascii = character.asciiValue, bytes[position] == ascii else {
                    return false
                }
                position += 1
                return true
            }

            /// Exactly `count` digits as a number.
            mutating func number(_ count: Int) -> Int? {
                guard position + count <= bytes.count else { return nil }
                let slice = bytes[position..<position + count]
                guard slice.allSatisfy(ParameterValidator.isDigit) else { return nil }
                position += count
                return slice.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            }

            mutating func date() -> Bool {
                guard let year = number(4), skip("-"), let month = number(2), skip("-"), let day = number(2) else {
                    return false
                }
                return year >= 1 && (1...12).contains(month) && (1...daysInMonth(month, year: year)).contains(day)
            }

            mutating func time() -> Bool {
                guard let hour = number(2), hour <= 23, skip(":"), let minute = number(2), minute <= 59 else {
                    return false
                }
                guard skip(":") else { return true }
                guard let second = number(2), second <= 59 else { return false }
                guard skip(".") else { return true }
                let digits = bytes[position...].prefix(while: ParameterValidator.isDigit).count
                position += digits
                return (1...6).contains(digits)
            }

            /// An optional zone; false when something other than a well-formed zone follows.
            mutating func zone() -> Bool {
                if atEnd || skip("Z") { return true }
                guard skip("+") || skip("-") else { return false }
                // PostgreSQL accepts offsets up to 15:59; real zones stay within ±14.
                guard let hour = number(2), hour <= 15 else { return false }
                if atEnd { return true }
                _ = skip(":")
                guard let minute = number(2) else { return false }
                return minute <= 59
            }
        }
    }

}

extension ParameterValidator {
    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }
}
