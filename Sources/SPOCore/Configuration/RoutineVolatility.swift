/// What PostgreSQL was told a routine does (`pg_proc.provolatile`), which decides whether a call
/// whose connection was lost after it was sent may be sent again.
public enum RoutineVolatility: String, Sendable, Equatable, CaseIterable {
    /// Same arguments, same result, no side effects (`IMMUTABLE`).
    case immutable
    /// No side effects within a statement (`STABLE`).
    case stable
    /// May change the database (`VOLATILE`, PostgreSQL's default).
    case volatile

    /// From `pg_proc.provolatile` (`i`, `s`, `v`); anything else counts as volatile.
    public init(provolatile: String) {
        switch provolatile {
        case "i": self = .immutable
        case "s": self = .stable
        default: self = .volatile
        }
    }

    /// Whether running it twice has no other effect than running it once, as far as the catalog says.
    public var isFreeOfSideEffects: Bool { self != .volatile }
}
