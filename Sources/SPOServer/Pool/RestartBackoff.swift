/// When a worker slot starts its worker again after it exited: at once, unless it keeps dying
/// right after start — then after a pause that doubles with each quick death, up to a minute, in
/// the spirit of php-fpm's `emergency_restart_threshold`. A worker that stays up a while ends the
/// streak.
struct RestartBackoff: Sendable, Equatable {
    /// A worker that lived less than this died "quickly".
    static let quickLife: Duration = .seconds(5)
    /// Quick deaths in a row restarted at once (a one-off crash, a `kill -9`).
    static let graceDeaths = 2
    static let firstPause: Duration = .seconds(1)
    static let longestPause: Duration = .seconds(60)

    /// Quick deaths in a row.
    private(set) var streak = 0

    /// Restarted with a pause: it died quickly more than `graceDeaths` times in a row.
    var isCrashLooping: Bool { streak > RestartBackoff.graceDeaths }

    /// The worker exited after `lived`: the pause before the next start (zero: at once).
    mutating func exited(after lived: Duration) -> Duration {
        streak = lived < RestartBackoff.quickLife ? streak + 1 : 0
        return pause
    }

    /// The pause the current streak earns: 0, 0, then 1 s, 2 s, 4 s … up to `longestPause`.
    var pause: Duration {
        guard isCrashLooping else { return .zero }
        let doublings = min(streak - RestartBackoff.graceDeaths - 1, 16)
        return min(RestartBackoff.firstPause * (1 << doublings), RestartBackoff.longestPause)
    }

    /// The worker has been up `lived`; true when that ended a streak.
    mutating func running(for lived: Duration) -> Bool {
        guard streak > 0, lived >= RestartBackoff.quickLife else { return false }
        streak = 0
        return true
    }
}
