import SPOCore

/// One call's passage through its connection's breaker: what it was let through as, and what it
/// has reported so far. Handed out by `BreakerBoard.admit`, carried through the attempts.
public final class BreakerTicket {
    /// How the call was let through.
    enum Kind: Equatable {
        /// The breaker is closed: outcomes go to this worker's window.
        case call
        /// A probe holding slot `id` of the shared half-open breaker of `generation`.
        case probe(id: String, generation: Int64)
        /// A probe this worker let through alone, the shared table being unreachable.
        case localProbe
    }

    let breaker: CircuitBreaker
    let kind: Kind
    /// Set once a probe's attempt failed against the database (it has then reopened the breaker);
    /// never set on a call's ticket, which every call of a closed breaker shares.
    var failed = false

    init(_ breaker: CircuitBreaker, _ kind: Kind) {
        self.breaker = breaker
        self.kind = kind
    }
}
