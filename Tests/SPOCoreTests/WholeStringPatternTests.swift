import Foundation
import Testing

@testable import SPOCore

/// The linear-time matcher against ICU's backtracking one (`NSRegularExpression`, what patterns
/// were matched with before): the same answers on every supported pattern, in bounded time.
@Suite struct WholeStringPatternTests {
    private func compiled(_ pattern: String) throws -> WholeStringPattern {
        try WholeStringPattern.compile(pattern).get()
    }

    /// ICU's whole-string answer, as the validator used to compute it.
    private func icuMatches(_ pattern: String, _ text: String) throws -> Bool {
        let regex = try NSRegularExpression(pattern: "\\A(?:" + pattern + ")\\z")
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    static let patterns = [
        "[a-z]+", "a|ab", "^[a-z]+$", "[0-9]{2}", #"[\s\S]*\S[\s\S]*"#, "^[A-Za-z0-9_.:-]+$", "(ab)*c?",
        "a{2,3}", "a{2,}", "a{0,2}b", "(a|b)*abb", "x*?y+?", "(?:ab|cd)+", "(?<word>[a-z]+)-\\d+", ".*", ".",
        "a.c", "\\d+(\\.\\d{1,2})?", "\\w+@\\w+\\.[a-z]{2,}", "[^aeiou]+", "[-a]+", "[a-]+", "[\\]x]+",
        "\\bfoo\\b.*", ".*\\Bo.*", "^$", "", "a$", "a\\Z", "a\\z", "\\Aa", "[\\d\\s]+", "[^\\w]+", "\\p{L}+",
        "\\p{Lu}\\p{Ll}*", "\\P{L}+", "[\\p{L}\\d]+", "\\u00e9+", "\\x41\\x{1F600}?", "\\.\\*\\+\\?",
        "\\(\\)\\[\\]\\{\\}", "a]b", "(a*)*", "(a|)+b", "((a)|b)+", "[\\t\\n]+", "é|ü", "\\W\\D\\S",
    ]

    static let texts = [
        "", "a", "ab", "abc", "abc1", "1abc", "abc\n", "abb", "aabb", "aaa", "aaaa", "b", "c", "ababc", "xyyy",
        "abcd", "foo-12", "12", "12.5", "12.345", "a@b.co", "fooo", " ", "\t", "\n", "\r\n", "a\n", "a\r\n",
        "a\u{85}", "a\u{2028}", "\u{0B}", "\u{0C}", "\u{A0}", "\u{2003}", "Éa", "éé", "Zoé", "ü", "x1 2", "-a-",
        "]x]", "a]b", "a}b", "foo bar", "foobar", "AB", "A😀", "😀", "٣", "a_b", "a\u{301}", "()[]{}", ".*+?", "bb",
        "ab\u{200D}", "a.c", "a\nc",
    ]

    @Test func answersAsICUDoesOnEverySupportedPattern() throws {
        var differences: [String] = []
        for pattern in Self.patterns {
            let ours = try compiled(pattern)
            for text in Self.texts where try ours.matches(text) != icuMatches(pattern, text) {
                differences.append("\(pattern) on \(text.debugDescription)")
            }
        }
        #expect(differences.isEmpty, "\(differences)")
    }

    @Test func classesMeanWhatICUsMeanOverTheBasicPlane() throws {
        // All of ASCII and Latin-1, every third character of the rest of the Basic Multilingual Plane
        // and a sample beyond, one class at a time; those Unicode 15 had, since ICU's tables can be
        // older than Swift's.
        var scalars = (0..<0x100).compactMap(Unicode.Scalar.init)
        scalars += stride(from: 0x100, to: 0xD800, by: 3).compactMap { Unicode.Scalar(UInt32($0)) }
        scalars += stride(from: 0xE000, to: 0x30000, by: 11).compactMap { Unicode.Scalar(UInt32($0)) }
        scalars = scalars.filter { scalar in scalar.properties.age.map { $0.major <= 15 } ?? true }
        for pattern in [".", "\\d", "\\w", "\\s", "\\p{L}", "\\p{Zs}", "\\P{N}", "[^a-z]"] {
            let ours = try compiled(pattern)
            let icu = try NSRegularExpression(pattern: "\\A(?:" + pattern + ")\\z")
            var differences: [String] = []
            for scalar in scalars {
                let text = String(Character(scalar))
                let theirs = icu.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                if ours.matches(text) != theirs { differences.append(String(scalar.value, radix: 16)) }
            }
            #expect(differences.isEmpty, "\(pattern): \(differences.prefix(20)) of \(differences.count)")
        }
    }

    @Test func pathologicalPatternsAnswerInMilliseconds() throws {
        // A backtracking engine tries up to 2^n ways to split the letters (ICU spent 3–6 s on the second).
        let cases: [(String, String)] = [
            ("([a-z]+)+$", String(repeating: "a", count: 10_000)),
            ("([a-z]+)+$", String(repeating: "a", count: 10_000) + "!"),
            ("(a|a)*b", String(repeating: "a", count: 10_000)),
            ("(a*)*b", String(repeating: "a", count: 10_000)),
            ("(\\w+\\s?)*$", String(repeating: "word ", count: 2_000) + "!"),
        ]
        for (pattern, text) in cases {
            let compiledPattern = try compiled(pattern)
            let started = ContinuousClock.now
            let matched = compiledPattern.matches(text)
            let took = ContinuousClock.now - started
            #expect(matched == (pattern == "([a-z]+)+$" && !text.hasSuffix("!")), "\(pattern)")
            // Milliseconds in fact (debug build, busy machine); the margin is wide on purpose.
            #expect(took < .seconds(1), "\(pattern) took \(took)")
        }
    }

    @Test func whatNeedsBacktrackingIsRefusedWithTheReason() {
        let refused: [(String, String)] = [
            ("(a)\\1", "backreferences"), ("a(?=b)", "lookahead"), ("(?<=a)b", "lookahead"), ("(?!a)b", "lookahead"),
            ("(?>a+)b", "atomic"), ("a++", "possessive"), ("(?i)abc", "inline flags"), ("[[:alpha:]]", "nested"),
            ("[a-z&&b]", "&& inside a class"), ("\\k<x>", "unsupported escape"), ("\\pL", "\\p{"),
            ("\\p{Greek}", "unsupported property"),
            ("a{2000}", "at most 1000"), ("(a{1000}){1000}", "too large"), ("a{3,2}", "below the minimum"),
            ("a{x}", "repetition such as"), ("[z-a]", "backwards"),
            (String(repeating: "a", count: 1001), "at most 1000 characters"),
        ]
        for (pattern, reason) in refused {
            switch WholeStringPattern.compile(pattern) {
            case .success: Issue.record("\(pattern) was accepted")
            case .failure(let problem): #expect(problem.description.contains(reason), "\(pattern): \(problem)")
            }
        }
    }

    @Test func malformedPatternsAreRefused() {
        for pattern in ["([a-z", "a)|(b", "*", "a|*", "[abc", "\\", "(?:", "^*", "a**", "a}b"] {
            if case .success = WholeStringPattern.compile(pattern) { Issue.record("\(pattern) was accepted") }
        }
    }

    @Test func valuesBeyondTheLengthBoundNeverMatch() throws {
        let any = try compiled(".*")
        #expect(any.matches(String(repeating: "x", count: WholeStringPattern.maxValueLength)))
        #expect(!any.matches(String(repeating: "x", count: WholeStringPattern.maxValueLength + 1)))
    }
}
