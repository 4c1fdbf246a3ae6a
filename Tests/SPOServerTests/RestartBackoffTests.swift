import Testing

@testable import SPOServer

/// A worker that keeps dying right after start waits longer each time, up to a minute.
@Suite struct RestartBackoffTests {
    @Test func quickDeathsDoubleThePauseUpToAMinute() {
        var backoff = RestartBackoff()
        let pauses = (0..<10).map { _ in backoff.exited(after: .milliseconds(30)) }
        #expect(pauses == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
        #expect(backoff.isCrashLooping)
        #expect(backoff.streak == 10)
    }

    @Test func aWorkerThatStayedUpIsRestartedAtOnce() {
        var backoff = RestartBackoff()
        for _ in 0..<5 { _ = backoff.exited(after: .milliseconds(30)) }
        #expect(backoff.exited(after: .seconds(30)) == .zero)
        #expect(!backoff.isCrashLooping)
        #expect(backoff.exited(after: .milliseconds(30)) == .zero)
    }

    @Test func stayingUpAWhileEndsTheStreak() {
        var backoff = RestartBackoff()
        for _ in 0..<4 { _ = backoff.exited(after: .milliseconds(30)) }
        let early = backoff.running(for: .seconds(1))
        #expect(!early)
        #expect(backoff.isCrashLooping)
        let ended = backoff.running(for: RestartBackoff.quickLife)
        #expect(ended)
        #expect(!backoff.isCrashLooping)
        #expect(backoff.exited(after: .milliseconds(30)) == .zero)
    }
}
