/// Reads a pattern's text into a tree, refusing what `WholeStringPattern` does not support with
/// a message that says what and why.
struct PatternParser {
    /// A parsed pattern.
    indirect enum Node {
        case set(ScalarSet)
        case assertion(PatternInstruction.Assertion)
        case sequence([Node])
        case alternation([Node])
        /// `max` nil: no upper bound.
        case repetition(Node, min: Int, max: Int?)
    }

    /// The largest count a repetition (`{n,m}`) may name.
    static let maxRepetition = 1000

    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ pattern: String) { scalars = Array(pattern.unicodeScalars) }

    typealias Problem = WholeStringPattern.Problem

    mutating func parse() throws(Problem) -> Node {
        let node = try alternation()
        if index < scalars.count {
            // Only an unbalanced `)` stops an alternation early.
            throw Problem("unbalanced ) at position \(index + 1)")
        }
        return node
    }

    // MARK: - Structure

    private var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func next() -> Unicode.Scalar? {
        guard index < scalars.count else { return nil }
        defer { index += 1 }
        return scalars[index]
    }

    private mutating func skip(_ scalar: Unicode.Scalar) -> Bool {
        guard peek == scalar else { return false }
        index += 1
        return true
    }

    private mutating func alternation() throws(Problem) -> Node {
        var branches = [try sequence()]
        while skip("|") { branches.append(try sequence()) }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func sequence() throws(Problem) -> Node {
        var items: [Node] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            let atom = try self.atom()
            items.append(try quantified(atom))
        }
        return .sequence(items)
    }

    private mutating func quantified(_ atom: Node) throws(Problem) -> Node {
        var node = atom
        while let bounds = try quantifier() {
            if case .assertion = node { throw Problem("nothing to repeat before position \(index)") }
            if case .repetition = node {
                // `a**` or `a{2}{3}`: ICU reads these, but they only blow up the program.
                throw Problem("a repetition cannot be repeated directly (position \(index)); use a group")
            }
            // Lazy (`*?`) and greedy quantifiers accept the same values.
            if skip("+") {
                throw Problem("possessive quantifiers (*+, ++, ?+) are not supported: they need backtracking")
            }
            _ = skip("?")
            node = .repetition(node, min: bounds.min, max: bounds.max)
        }
        return node
    }

    /// `* + ? {n} {n,} {n,m}` at the cursor, consumed; nil when none is there.
    private mutating func quantifier() throws(Problem) -> (min: Int, max: Int?)? {
        switch peek {
        case "*": index += 1; return (0, nil)
        case "+": index += 1; return (1, nil)
        case "?": index += 1; return (0, 1)
        case "{":
            let start = index
            index += 1
            guard let low = number() else { throw Problem(Self.braceAdvice(at: start)) }
            var high: Int? = low
            if skip(",") { high = number() }
            guard skip("}") else { throw Problem(Self.braceAdvice(at: start)) }
            if let high, high < low { throw Problem("{\(low),\(high)}: the maximum is below the minimum") }
            if max(low, high ?? 0) > Self.maxRepetition {
                throw Problem("repetition counts may be at most \(Self.maxRepetition)")
            }
            return (low, high)
        default: return nil
        }
    }

    private static func braceAdvice(at position: Int) -> String {
        "a { must start a repetition such as {2}, {1,} or {1,3} (position \(position + 1)); write \\{ for the character"
    }

    private mutating func number() -> Int? {
        var digits = ""
        while let scalar = peek, ("0"..."9").contains(scalar), digits.count < 9 {
            digits.unicodeScalars.append(scalar)
            index += 1
        }
        return Int(digits)
    }

    private mutating func atom() throws(Problem) -> Node {
        let position = index + 1
        guard let scalar = next() else { throw Problem("unexpected end of pattern") }
        switch scalar {
        case "(": return try group(at: position)
        case "[": return .set(try characterClass(at: position))
        case ".": return .set(.dot)
        case "^": return .assertion(.start)
        case "$": return .assertion(.endOfLastLine)
        case "\\": return try escape(inClass: false)
        case "*", "+", "?", "{": throw Problem("nothing to repeat before \(scalar) at position \(position)")
        case "}": throw Problem("a lone } at position \(position); write \\} for the character")
        default: return .set(.single(scalar))
        }
    }

    private mutating func group(at position: Int) throws(Problem) -> Node {
        if skip("?") {
            if skip(":") {
                // A group that captures nothing: the same to a match.
            } else if peek == "<", index + 1 < scalars.count, scalars[index + 1] != "=", scalars[index + 1] != "!" {
                // A named group: its name matters to captures only.
                index += 1
                while let scalar = peek, scalar != ">" {
                    guard scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) else {
                        throw Problem("invalid group name at position \(index + 1)")
                    }
                    index += 1
                }
                guard skip(">") else { throw Problem("unterminated group name at position \(position)") }
            } else {
                throw Problem(
                    "(? at position \(position): only (?:…) and (?<name>…) groups are supported; lookahead, "
                        + "lookbehind, atomic groups, comments and inline flags need backtracking or other modes")
            }
        }
        let inner = try alternation()
        guard skip(")") else { throw Problem("unclosed ( at position \(position)") }
        return inner
    }

    // MARK: - Escapes and classes

    /// After a backslash: a class, an assertion or one character.
    private mutating func escape(inClass: Bool) throws(Problem) -> Node {
        let position = index
        guard let scalar = next() else { throw Problem("the pattern ends with a lone \\") }
        switch scalar {
        case "d", "D": return .set(ScalarSet(named: [.init(kind: .digit, negated: scalar == "D")]))
        case "w", "W": return .set(ScalarSet(named: [.init(kind: .word, negated: scalar == "W")]))
        case "s", "S": return .set(ScalarSet(named: [.init(kind: .space, negated: scalar == "S")]))
        case "p", "P": return .set(ScalarSet(named: [try property(negated: scalar == "P")]))
        case "A" where !inClass: return .assertion(.start)
        case "z" where !inClass: return .assertion(.end)
        case "Z" where !inClass: return .assertion(.endOfLastLine)
        case "b" where !inClass: return .assertion(.wordBoundary)
        case "B" where !inClass: return .assertion(.notWordBoundary)
        case "1"..."9":
            throw Problem("backreferences (\\\(scalar)) are not supported: they cannot be matched in linear time")
        default: return .set(.single(try character(escaped: scalar, at: position)))
        }
    }

    /// The one character an escape stands for (`\n`, `\u00e9`, `\.`, …).
    private mutating func character(escaped scalar: Unicode.Scalar, at position: Int) throws(Problem) -> Unicode.Scalar
    {
        switch scalar {
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "f": return "\u{0C}"
        case "e": return "\u{1B}"
        case "a": return "\u{07}"
        case "u": return try hexadecimal(count: 4, at: position)
        case "x":
            if skip("{") {
                var digits = ""
                while let next = peek, next != "}", digits.count <= 6 {
                    digits.unicodeScalars.append(next)
                    index += 1
                }
                guard skip("}"), let value = UInt32(digits, radix: 16), let result = Unicode.Scalar(value) else {
                    throw Problem("invalid \\x{…} at position \(position)")
                }
                return result
            }
            return try hexadecimal(count: 2, at: position)
        default:
            // Escaped punctuation stands for itself; escaped letters and digits name features.
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                throw Problem("unsupported escape \\\(scalar) at position \(position)")
            }
            return scalar
        }
    }

    private mutating func hexadecimal(count: Int, at position: Int) throws(Problem) -> Unicode.Scalar {
        guard index + count <= scalars.count else { throw Problem("incomplete escape at position \(position)") }
        var digits = ""
        digits.unicodeScalars.append(contentsOf: scalars[index..<index + count])
        index += count
        guard let value = UInt32(digits, radix: 16), let result = Unicode.Scalar(value) else {
            throw Problem("invalid hexadecimal escape at position \(position)")
        }
        return result
    }

    /// `\p{L}`, `\p{Lu}`, …: Unicode general categories.
    private mutating func property(negated: Bool) throws(Problem) -> ScalarSet.Named {
        let position = index
        var name = ""
        // ICU reads only the braced form.
        guard skip("{") else { throw Problem("write a property as \\p{L} (position \(position))") }
        while let next = peek, next != "}" {
            name.unicodeScalars.append(next)
            index += 1
        }
        guard skip("}") else { throw Problem("unclosed \\p{ at position \(position)") }
        guard let categories = Self.generalCategories[name] else {
            throw Problem(
                "unsupported property \\p{\(name)}; supported: general categories such as "
                    + Self.generalCategories.keys.sorted().joined(separator: ", "))
        }
        return .init(kind: .categories(categories), negated: negated)
    }

    private static let generalCategories: [String: [Unicode.GeneralCategory]] = {
        let letters: [String: Unicode.GeneralCategory] = [
            "Lu": .uppercaseLetter, "Ll": .lowercaseLetter, "Lt": .titlecaseLetter, "Lm": .modifierLetter,
            "Lo": .otherLetter, "Mn": .nonspacingMark, "Mc": .spacingMark, "Me": .enclosingMark,
            "Nd": .decimalNumber, "Nl": .letterNumber, "No": .otherNumber, "Pc": .connectorPunctuation,
            "Pd": .dashPunctuation, "Ps": .openPunctuation, "Pe": .closePunctuation, "Pi": .initialPunctuation,
            "Pf": .finalPunctuation, "Po": .otherPunctuation, "Sm": .mathSymbol, "Sc": .currencySymbol,
            "Sk": .modifierSymbol, "So": .otherSymbol, "Zs": .spaceSeparator, "Zl": .lineSeparator,
            "Zp": .paragraphSeparator, "Cc": .control, "Cf": .format, "Cs": .surrogate, "Co": .privateUse,
            "Cn": .unassigned,
        ]
        var table = letters.mapValues { [$0] }
        for major in ["L", "M", "N", "P", "S", "Z", "C"] {
            table[major] = letters.filter { $0.key.hasPrefix(major) }.sorted { $0.key < $1.key }.map(\.value)
        }
        return table
    }()

    /// After `[`: ranges, single characters and named classes up to the closing `]`.
    private mutating func characterClass(at position: Int) throws(Problem) -> ScalarSet {
        var set = ScalarSet()
        set.negated = skip("^")
        var first = true
        while true {
            guard let scalar = next() else { throw Problem("unclosed [ at position \(position)") }
            if scalar == "]" && !first { return set }
            first = false
            switch scalar {
            case "[", "]":
                throw Problem(
                    "\(scalar) inside a class at position \(index): nested classes, [:name:] and set operations "
                        + "are not supported; write \\\(scalar) for the character")
            case "&" where peek == "&":
                throw Problem("&& inside a class (position \(index)) is not supported; write \\& for the character")
            default: break
            }
            let low: Unicode.Scalar
            if scalar == "\\" {
                let escapePosition = index
                guard let escaped = next() else { throw Problem("unclosed [ at position \(position)") }
                if "dDwWsSpP".unicodeScalars.contains(escaped) {
                    index -= 1
                    guard case .set(let named) = try escape(inClass: true) else { continue }
                    set.named += named.named
                    continue
                }
                low = try character(escaped: escaped, at: escapePosition)
            } else {
                low = scalar
            }
            // A range, unless the `-` is the last thing before `]`.
            if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                let high = try rangeEnd(at: index)
                guard low.value <= high.value else {
                    throw Problem("the range \(low)-\(high) at position \(index) runs backwards")
                }
                set.ranges.append(low.value...high.value)
            } else {
                set.ranges.append(low.value...low.value)
            }
        }
    }

    private mutating func rangeEnd(at position: Int) throws(Problem) -> Unicode.Scalar {
        guard let scalar = next() else { throw Problem("unclosed [ at position \(position)") }
        if scalar == "[" { throw Problem("nested classes are not supported (position \(position + 1))") }
        guard scalar == "\\" else { return scalar }
        guard let escaped = next() else { throw Problem("unclosed [ at position \(position)") }
        if "dDwWsSpP".unicodeScalars.contains(escaped) {
            throw Problem("a range cannot end in a class such as \\\(escaped) (position \(position + 1))")
        }
        return try character(escaped: escaped, at: position)
    }
}
