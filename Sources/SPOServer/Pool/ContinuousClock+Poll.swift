import CPoll
import Glibc

extension ContinuousClock.Instant {
    /// The milliseconds from now until this instant for `poll(2)`: rounded up, so a wait never
    /// ends before it; 0 once it has passed.
    var pollMilliseconds: Int32 {
        let left = ContinuousClock.now.duration(to: self)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    /// Waits for `descriptors` like `poll(2)` until this instant, to the microsecond (`ppoll`).
    func poll(_ descriptors: inout [pollfd]) -> Int32 {
        let left = max(ContinuousClock.now.duration(to: self), .zero)
        let (seconds, attoseconds) = left.components
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        return ppoll(&descriptors, nfds_t(descriptors.count), &timeout, nil)
    }
}
