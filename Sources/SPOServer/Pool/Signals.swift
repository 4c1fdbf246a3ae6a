import Glibc
import SPOCore

/// Signals handled synchronously: they are blocked and collected with `sigtimedwait`, so no
/// code runs in a signal handler and a busy worker never loses one.
public struct SignalSet {
    private var set = sigset_t()

    public init(_ signals: [Int32]) {
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
    }

    /// Blocks these signals for this process (children spawned later get a clean mask).
    public func block() {
        var copy = set
        sigprocmask(SIG_BLOCK, &copy, nil)
    }

    /// The next pending signal, waiting at most `milliseconds` (0 = just look).
    public func next(waitingMilliseconds milliseconds: Int) -> Int32? {
        var copy = set
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        let signal = sigtimedwait(&copy, nil, &timeout)
        return signal > 0 ? signal : nil
    }

    /// Ignore SIGPIPE: a client that hung up must not kill the process mid-write.
    public static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }
}
