/// One step of a compiled `WholeStringPattern`.
enum PatternInstruction: Sendable {
    /// Consume one character of the set, then go on with the next instruction.
    case scalar(ScalarSet)
    /// Go on with both instructions (alternation and repetition).
    case split(Int, Int)
    case jump(Int)
    /// Go on with the next instruction only where the assertion holds; consumes nothing.
    case assertion(Assertion)
    /// The whole pattern matched (it counts only at the end of the value).
    case match

    /// A condition on the position between two characters.
    enum Assertion: Sendable {
        /// `^`, `\A`: the start of the value.
        case start
        /// `\z`: the end of the value.
        case end
        /// `$`, `\Z` (ICU without multi-line mode): the end, or just before a line terminator that
        /// ends the value.
        case endOfLastLine
        /// `\b`: between a word character and a non-word one (or the start or end).
        case wordBoundary
        /// `\B`
        case notWordBoundary

        func holds(at position: Int, in scalars: [Unicode.Scalar]) -> Bool {
            let count = scalars.count
            switch self {
            case .start: return position == 0
            case .end: return position == count
            case .endOfLastLine:
                if position == count { return true }
                if position == count - 1 { return ScalarSet.isLineTerminator(scalars[position]) }
                return position == count - 2 && scalars[position] == "\r" && scalars[position + 1] == "\n"
            case .wordBoundary, .notWordBoundary:
                let before = position > 0 && ScalarSet.isWord(scalars[position - 1])
                let after = position < count && ScalarSet.isWord(scalars[position])
                return (before != after) == (self == .wordBoundary)
            }
        }
    }
}
