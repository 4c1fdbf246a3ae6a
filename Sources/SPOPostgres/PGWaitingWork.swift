/// Work its caller has in hand while statements run, done at intervals while the server is slow
/// to answer: a worker's answer held for its audit commit is written during the next request's
/// call instead of after it, however long that call takes.
///
/// Bound with `PGWaitingWork.$current.withValue(_:operation:)` around the statements it may
/// interrupt; every wait for a server (`PGConnection`, `PGConcurrentQueries`) then wakes at
/// least every `intervalMilliseconds` to run it, until it says it is done. A wait shorter than
/// the interval costs nothing more.
public final class PGWaitingWork: @unchecked Sendable {
    // @unchecked: used only by the thread that bound it, while it is bound.

    /// The work of the statements running now, if any.
    @TaskLocal public static var current: PGWaitingWork?

    public let intervalMilliseconds: Int32
    private let work: () -> Bool
    /// Set once `work` said it is done: waits are no longer interrupted.
    public private(set) var isDone = false

    /// `work` returns true once nothing is left to do.
    public init(everyMilliseconds interval: Int32, _ work: @escaping () -> Bool) {
        intervalMilliseconds = max(interval, 1)
        self.work = work
    }

    /// The `poll(2)` timeout to wait with instead of `timeout` (-1: none).
    func bound(_ timeout: Int32) -> Int32 {
        guard !isDone else { return timeout }
        return timeout < 0 ? intervalMilliseconds : min(timeout, intervalMilliseconds)
    }

    /// Makes the work due again (one instance serves from request to request).
    public func rearm() { isDone = false }

    /// Runs the work, unless it is done.
    func run() {
        if !isDone { isDone = work() }
    }
}
