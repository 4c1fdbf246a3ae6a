/// Turns a parsed pattern into the program `WholeStringPattern` runs (Thompson's construction).
enum PatternCompiler {
    typealias Node = PatternParser.Node

    static func compile(_ tree: Node) throws(WholeStringPattern.Problem) -> [PatternInstruction] {
        // Sized first, so a pattern such as `(a{1000}){1000}` is refused before it is built.
        guard size(of: tree) + 1 <= WholeStringPattern.maxProgramSize else {
            throw WholeStringPattern.Problem(
                "the pattern is too large once its repetitions are expanded (at most "
                    + "\(WholeStringPattern.maxProgramSize) steps); use smaller counts")
        }
        var program: [PatternInstruction] = []
        emit(tree, into: &program)
        program.append(.match)
        return program
    }

    /// Instructions `node` compiles to, saturating instead of overflowing.
    static func size(of node: Node) -> Int {
        let cap = WholeStringPattern.maxProgramSize + 1
        switch node {
        case .set, .assertion: return 1
        case .sequence(let items): return min(cap, items.reduce(0) { min(cap, $0 + size(of: $1)) })
        case .alternation(let branches): return min(cap, branches.reduce(0) { min(cap, $0 + size(of: $1) + 2) })
        case .repetition(let body, let low, let high):
            let one = size(of: body)
            let copies = high.map { $0 } ?? (low + 1)
            return min(cap, copies.multipliedReportingOverflow(by: one + 2).partialValue)
        }
    }

    private static func emit(_ node: Node, into program: inout [PatternInstruction]) {
        switch node {
        case .set(let set): program.append(.scalar(set))
        case .assertion(let assertion): program.append(.assertion(assertion))
        case .sequence(let items): for item in items { emit(item, into: &program) }
        case .alternation(let branches): alternation(branches[...], into: &program)
        case .repetition(let body, let low, let high):
            for _ in 0..<low { emit(body, into: &program) }
            if let high {
                optionalCopies(body, count: high - low, into: &program)
            } else {
                // L: split(body, out); body; jump L
                let loop = program.count
                program.append(.split(loop + 1, 0))
                emit(body, into: &program)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }

    /// `a|b|c` as split(a, split(b, c)), each branch jumping past the rest.
    private static func alternation(_ branches: ArraySlice<Node>, into program: inout [PatternInstruction]) {
        guard branches.count > 1, let first = branches.first else {
            if let only = branches.first { emit(only, into: &program) }
            return
        }
        let split = program.count
        program.append(.split(split + 1, 0))
        emit(first, into: &program)
        let jump = program.count
        program.append(.jump(0))
        program[split] = .split(split + 1, program.count)
        alternation(branches.dropFirst(), into: &program)
        program[jump] = .jump(program.count)
    }

    /// `x{0,n}` as nested optionals: each copy may be skipped, and skipping one skips the rest.
    private static func optionalCopies(_ body: Node, count: Int, into program: inout [PatternInstruction]) {
        var splits: [Int] = []
        for _ in 0..<count {
            splits.append(program.count)
            program.append(.split(program.count + 1, 0))
            emit(body, into: &program)
        }
        for split in splits { program[split] = .split(split + 1, program.count) }
    }
}
