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
/// characters takes about a millisecond where ICU's backtracking engine took seconds.
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
    /// Per instruction: whether it consumes a character, and which ASCII characters it accepts
    /// (bits 0–63 and 64–127). Most values are ASCII: their steps test bits instead of copying a
    /// set out of the program, which costs reference counting on every step.
    private let consumes: [Bool]
    private let asciiLow: [UInt64]
    private let asciiHigh: [UInt64]

    init(program: [PatternInstruction]) {
        self.program = program
        var consumes = Array(repeating: false, count: program.count)
        var low = Array(repeating: UInt64(0), count: program.count)
        var high = Array(repeating: UInt64(0), count: program.count)
        for (pc, instruction) in program.enumerated() {
            guard case .scalar(let set) = instruction else { continue }
            consumes[pc] = true
            for value in 0..<UInt32(128) where set.contains(Unicode.Scalar(UInt8(value))) {
                if value < 64 { low[pc] |= 1 << value } else { high[pc] |= 1 << (value - 64) }
            }
        }
        (self.consumes, asciiLow, asciiHigh) = (consumes, low, high)
    }

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
            let value = scalar.value
            for pc in current.members where consumes[pc] {
                let accepted: Bool
                if value < 64 {
                    accepted = asciiLow[pc] & (1 << UInt64(value)) != 0
                } else if value < 128 {
                    accepted = asciiHigh[pc] & (1 << UInt64(value - 64)) != 0
                } else if case .scalar(let set) = program[pc] {
                    accepted = set.contains(scalar)
                } else {
                    accepted = false
                }
                if accepted { follow(from: pc + 1, at: position + 1, scalars, into: &next, stack: &stack) }
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
            guard set.insert(pc), !consumes[pc] else { continue }
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
