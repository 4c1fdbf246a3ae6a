/// A configured `pattern`, matched against the whole value in time linear in the value's length.
///
/// The syntax is the regular subset of ICU's (what `NSRegularExpression` reads) with the same
/// meaning: literals and escapes, `.`, classes (`[a-z]`, `[^…]`, `\d \w \s` and their negations,
/// `\p{L}`-style general categories), groups (`(…)`, `(?:…)`, `(?<name>…)`), alternation,
/// greedy or lazy quantifiers (`* + ? {n} {n,} {n,m}`) and the anchors `^ $ \A \z \Z \b \B`.
/// What cannot be matched without backtracking — backreferences, lookaround, atomic groups,
/// possessive quantifiers — and inline flags are refused when the pattern is compiled.
///
/// Matching simulates the compiled automaton on all paths at once (Thompson's construction), so
/// it costs at most the value's length times the program's size: `([a-z]+)+$` against 10,000
/// characters takes microseconds where a backtracking engine takes minutes.
public struct WholeStringPattern: Sendable {
    /// The longest pattern accepted, in characters.
    public static let maxPatternLength = 1000
    /// The largest compiled program (roughly one instruction per character and repetition).
    public static let maxProgramSize = 5000
    /// The longest value a pattern is matched against, in characters: with the program's size,
    /// this bounds the work of one match (at most 100,000 × 5,000 steps, far less in practice).
    public static let maxValueLength = 100_000

    /// Why a pattern was refused, in words for the configuration's author.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    let program: [PatternInstruction]

    /// The pattern compiled, or why it cannot be.
    public static func compile(_ pattern: String) -> Result<WholeStringPattern, Problem> {
        guard pattern.unicodeScalars.count <= maxPatternLength else {
            return .failure(Problem("a pattern may have at most \(maxPatternLength) characters"))
        }
        do throws(Problem) {
            var parser = PatternParser(pattern)
            let tree = try parser.parse()
            return .success(WholeStringPattern(program: try PatternCompiler.compile(tree)))
        } catch {
            return .failure(error)
        }
    }

    /// Whether the whole of `text` matches. Values longer than `maxValueLength` never match.
    public func matches(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count <= Self.maxValueLength else { return false }
        var current = StateSet(capacity: program.count)
        var next = StateSet(capacity: program.count)
        var stack: [Int] = []
        follow(from: 0, at: 0, scalars, into: &current, stack: &stack)
        for position in scalars.indices {
            if current.isEmpty { return false }
            next.removeAll()
            let scalar = scalars[position]
            for pc in current.members {
                if case .scalar(let set) = program[pc], set.contains(scalar) {
                    follow(from: pc + 1, at: position + 1, scalars, into: &next, stack: &stack)
                }
            }
            swap(&current, &next)
        }
        return current.members.contains { if case .match = program[$0] { true } else { false } }
    }

    /// Adds `start` and every state reachable from it without consuming a character at `position`.
    private func follow(
        from start: Int, at position: Int, _ scalars: [Unicode.Scalar], into set: inout StateSet, stack: inout [Int]
    ) {
        stack.append(start)
        while let pc = stack.popLast() {
            guard set.insert(pc) else { continue }
            switch program[pc] {
            case .jump(let target): stack.append(target)
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .assertion(let assertion):
                if assertion.holds(at: position, in: scalars) { stack.append(pc + 1) }
            case .scalar, .match: break
            }
        }
    }
}

/// A set of program counters with constant-time insert, membership and clearing (the sparse-set
/// trick): one per step of a match, so clearing must not cost the program's size.
struct StateSet {
    private(set) var members: [Int] = []
    private var position: [Int]

    init(capacity: Int) {
        position = Array(repeating: -1, count: capacity)
        members.reserveCapacity(capacity)
    }

    var isEmpty: Bool { members.isEmpty }

    /// False when `pc` was already in the set.
    mutating func insert(_ pc: Int) -> Bool {
        let index = position[pc]
        if index >= 0, index < members.count, members[index] == pc { return false }
        position[pc] = members.count
        members.append(pc)
        return true
    }

    mutating func removeAll() { members.removeAll(keepingCapacity: true) }
}
