/// The characters one step of a pattern accepts: ranges and named classes, possibly negated.
/// The classes follow ICU's definitions, so a pattern means what it meant to `NSRegularExpression`.
struct ScalarSet: Sendable {
    /// A named class of characters (`\d`, `\w`, `\s`, `\p{…}`), possibly negated (`\D`, `\P{…}`).
    struct Named: Sendable {
        enum Kind: Sendable {
            case digit, word, space
            case categories([Unicode.GeneralCategory])
        }

        var kind: Kind
        var negated = false

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            let found: Bool
            switch kind {
            case .digit: found = scalar.properties.generalCategory == .decimalNumber
            case .word: found = ScalarSet.isWord(scalar)
            case .space: found = ScalarSet.isSpace(scalar)
            case .categories(let categories): found = categories.contains(scalar.properties.generalCategory)
            }
            return found != negated
        }
    }

    var ranges: [ClosedRange<UInt32>] = []
    var named: [Named] = []
    var negated = false

    static func single(_ scalar: Unicode.Scalar) -> ScalarSet { ScalarSet(ranges: [scalar.value...scalar.value]) }

    /// `.`: every character but a line terminator.
    static let dot = ScalarSet(ranges: lineTerminators, negated: true)

    private static let lineTerminators: [ClosedRange<UInt32>] = [0x0A...0x0D, 0x85...0x85, 0x2028...0x2029]

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        let found = ranges.contains { $0.contains(value) } || named.contains { $0.contains(scalar) }
        return found != negated
    }

    static func isLineTerminator(_ scalar: Unicode.Scalar) -> Bool {
        lineTerminators.contains { $0.contains(scalar.value) }
    }

    /// ICU's `\w`: alphabetic, marks, decimal digits, connector punctuation, ZWNJ and ZWJ.
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            return (0x61...0x7A).contains(scalar.value) || (0x41...0x5A).contains(scalar.value)
                || (0x30...0x39).contains(scalar.value) || scalar == "_"
        }
        if scalar.value == 0x200C || scalar.value == 0x200D || scalar.properties.isAlphabetic { return true }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// ICU's `\s`: the Unicode White_Space property.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace }
}
