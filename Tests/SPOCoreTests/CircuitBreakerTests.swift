import SPOJSON
import SPOPostgres
import Testing

@testable import SPOCore

/// The breaker's window and states, without a database: what opens it, what it lets through.
@Suite struct CircuitBreakerTests {
    func breaker(window: Int = 4, minimum: Int = 4, threshold: Int = 50, openMilliseconds: Int = 1000)
        -> CircuitBreaker
    {
        var settings = BreakerSettings()
        (settings.windowCalls, settings.minimumCalls) = (window, minimum)
        (settings.failureRateThreshold, settings.openMilliseconds) = (threshold, openMilliseconds)
        return CircuitBreaker(connection: "db", settings: settings)
    }

    @Test func theMinimumNumberOfCallsComesFirst() {
        let breaker = breaker(window: 10, minimum: 5, threshold: 50)
        for _ in 0..<4 { #expect(!breaker.record(failure: true)) }
        #expect(breaker.failureRate == nil)
        #expect(breaker.record(failure: true))
        #expect(breaker.failureRate == 100)
    }

    @Test func theRateIsOverTheLatestCallsOnly() {
        let breaker = breaker(window: 4, minimum: 4, threshold: 75)
        // Two failures long ago slide out of the window of four.
        for failure in [true, true, false, false, false, false] { #expect(!breaker.record(failure: failure)) }
        #expect(breaker.window == (4, 0))
        #expect(!breaker.record(failure: true))
        #expect(!breaker.record(failure: true))
        #expect(breaker.window == (4, 2))
        // Three of four: 75 %.
        #expect(breaker.record(failure: true))
    }

    @Test func aSuccessNeverOpens() {
        let breaker = breaker(window: 2, minimum: 1, threshold: 1)
        #expect(breaker.record(failure: true))
        #expect(!breaker.record(failure: false))
    }

    @Test func onlyInfrastructureFailuresCount() {
        #expect(CircuitBreaker.countsAgainst(PGError(kind: .connection, sqlstate: "08006", message: "")))
        #expect(CircuitBreaker.countsAgainst(PGError(kind: .timeout, sqlstate: "57014", message: "")))
        #expect(CircuitBreaker.countsAgainst(PGError(kind: .server, sqlstate: "57P01", message: "")))
        #expect(CircuitBreaker.countsAgainst(PGError(kind: .server, sqlstate: "08P01", message: "")))
        for business in ["P0001", "22012", "23505", "42501", "40001", "42883"] {
            #expect(!CircuitBreaker.countsAgainst(PGError(kind: .server, sqlstate: business, message: "")))
        }
    }

    @Test func openRefusesUntilItsDurationPassedThenProbes() {
        let breaker = breaker(openMilliseconds: 1000)
        let now = ContinuousClock.now
        #expect(breaker.admission(at: now) == .call)
        breaker.adopt(
            BreakerSnapshot(connection: "db", state: .open, generation: 1, remainingOpenMilliseconds: 1000), at: now)
        #expect(breaker.admission(at: now + .milliseconds(400)) == .refuse(retryAfter: .milliseconds(600)))
        #expect(breaker.admission(at: now + .milliseconds(1000)) == .probe)
        breaker.probeSlotsTaken(at: now + .milliseconds(1000))
        #expect(breaker.admission(at: now + .milliseconds(1100)) == .refuse(retryAfter: .milliseconds(100)))
        #expect(breaker.admission(at: now + .milliseconds(1200)) == .probe)
        // Nothing counts while not closed.
        #expect(!breaker.record(failure: true))
    }

    @Test func aNewClosedGenerationStartsAFreshWindow() {
        let breaker = breaker(window: 4, minimum: 2)
        _ = breaker.record(failure: true)
        let now = ContinuousClock.now
        breaker.adopt(BreakerSnapshot(connection: "db", state: .closed, generation: 0), at: now)
        #expect(breaker.window == (1, 1), "the same generation keeps the window")
        breaker.adopt(BreakerSnapshot(connection: "db", state: .closed, generation: 3), at: now)
        #expect(breaker.window == (0, 0))
    }

    @Test func aDisabledBreakerLetsEverythingThrough() {
        var settings = BreakerSettings()
        settings.enabled = false
        let breaker = CircuitBreaker(connection: "db", settings: settings)
        breaker.adopt(BreakerSnapshot(connection: "db", state: .open, remainingOpenMilliseconds: 60000), at: .now)
        #expect(breaker.admission(at: .now) == .call)
        #expect(!breaker.record(failure: true))
    }

    @Test func settingsAreReadWithEveryProblem() throws {
        let good = try BreakerSettings.read(
            try JSONValue.parse(#"{"window_calls": 50, "minimum_calls": 50, "open_ms": 100, "enabled": false}"#)
        ).get()
        #expect(good.windowCalls == 50 && good.minimumCalls == 50 && good.openMilliseconds == 100 && !good.enabled)
        #expect(try BreakerSettings.read(good.document).get() == good)
        #expect(try BreakerSettings.read(.object([])).get() == BreakerSettings())
        let bad = BreakerSettings.read(
            try JSONValue.parse(
                #"{"failure_rate_threshold": 101, "open_ms": 5, "half_open_probes": "3", "window_calls": 3, "x": 1}"#))
        guard case .failure(let error) = bad else {
            Issue.record("accepted")
            return
        }
        #expect(
            Set(error.problems.map(\.path)) == [
                "breaker.failure_rate_threshold", "breaker.open_ms", "breaker.half_open_probes",
                "breaker.minimum_calls", "breaker.x",
            ])
        if case .success = BreakerSettings.read(.number(3)) { Issue.record("a number was read as settings") }
    }
}
