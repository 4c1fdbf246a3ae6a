import Testing

@testable import SPOCore

private func policy(
    initial: Int = 100, multiplier: Double = 2, max: Int = 10_000, jitter: Double = 0,
    states: [String] = RetryPolicy.transientSQLStates
) -> RetryPolicy {
    RetryPolicy(
        name: "test", maxAttempts: 5, initialBackoffMilliseconds: initial, multiplier: multiplier,
        maxBackoffMilliseconds: max, jitter: jitter, retryableSQLStates: states)
}

@Suite struct RetryPolicyTests {
    // MARK: What is retried

    @Test(arguments: ["40001", "40P01", "08006", "08001", "08P01", "57P01", "57P02", "57P03", "53300"])
    func transientFailuresAreRetryable(sqlstate: String) {
        #expect(policy().isRetryable(sqlstate: sqlstate))
    }

    @Test(arguments: ["P0001", "23505", "22012", "42883", "57014", "40002", "53200", "80006", ""])
    func businessAndOtherFailuresAreNotRetryable(sqlstate: String) {
        #expect(!policy().isRetryable(sqlstate: sqlstate))
    }

    @Test func fiveCharacterEntriesMatchExactlyAndTwoCharacterEntriesMatchTheClass() {
        let custom = policy(states: ["40001", "57"])
        #expect(custom.isRetryable(sqlstate: "40001"))
        #expect(!custom.isRetryable(sqlstate: "40P01"))
        #expect(custom.isRetryable(sqlstate: "57P01"))
        #expect(custom.isRetryable(sqlstate: "57P03"))
        #expect(!custom.isRetryable(sqlstate: "08006"))
    }

    @Test func businessErrorsAreNeverRetriedEvenWhenListed() {
        let careless = policy(states: ["P0001", "23", "40001"])
        #expect(!careless.isRetryable(sqlstate: "P0001"))
        #expect(!careless.isRetryable(sqlstate: "23505"))
        #expect(careless.isRetryable(sqlstate: "40001"))
    }

    @Test func nonePolicyRetriesNothing() {
        #expect(RetryPolicy.none.maxAttempts == 1)
        #expect(!RetryPolicy.none.isRetryable(sqlstate: "40001"))
        #expect(!RetryPolicy.none.isRetryable(sqlstate: "08006"))
    }

    // MARK: Backoff

    @Test func backoffGrowsByTheMultiplier() {
        let growing = policy(initial: 100, multiplier: 2)
        let delays = (1...5).map { growing.backoff(afterAttempt: $0, random: 0.5) }
        #expect(
            delays == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
            ])
        let slower = policy(initial: 40, multiplier: 1.5)
        #expect(slower.backoff(afterAttempt: 3, random: 0.5) == .milliseconds(90))
    }

    @Test func multiplierOneKeepsTheDelayConstant() {
        let constant = policy(initial: 250, multiplier: 1)
        #expect(
            (1...4).map { constant.backoff(afterAttempt: $0, random: 0.5) }
                == Array(repeating: .milliseconds(250), count: 4))
    }

    @Test func backoffIsCappedAtTheMaximum() {
        let capped = policy(initial: 100, multiplier: 3, max: 1000)
        #expect(capped.backoff(afterAttempt: 3, random: 0.5) == .milliseconds(900))
        #expect(capped.backoff(afterAttempt: 4, random: 0.5) == .milliseconds(1000))
        #expect(capped.backoff(afterAttempt: 20, random: 0.5) == .milliseconds(1000))
        #expect(capped.backoff(afterAttempt: 10_000, random: 0.5) == .milliseconds(1000))
    }

    @Test func jitterBounds() {
        let jittered = policy(initial: 1000, multiplier: 2, jitter: 0.2)
        #expect(jittered.backoff(afterAttempt: 1, random: 0) == .milliseconds(800))
        #expect(jittered.backoff(afterAttempt: 1, random: 0.5) == .milliseconds(1000))
        #expect(jittered.backoff(afterAttempt: 1, random: 1) == .milliseconds(1200))
        #expect(jittered.backoff(afterAttempt: 2, random: 0) == .milliseconds(1600))
        #expect(jittered.backoff(afterAttempt: 2, random: 1) == .milliseconds(2400))
        for step in 0..<100 {
            let delay = jittered.backoff(afterAttempt: 1, random: Double(step) / 100)
            #expect(delay >= .milliseconds(800) && delay <= .milliseconds(1200))
        }
    }

    @Test func jitterAppliesAfterTheCap() {
        let capped = policy(initial: 1000, multiplier: 10, max: 2000, jitter: 0.5)
        #expect(capped.backoff(afterAttempt: 5, random: 0) == .milliseconds(1000))
        #expect(capped.backoff(afterAttempt: 5, random: 1) == .milliseconds(3000))
    }

    @Test func fullJitterNeverGoesNegative() {
        let full = policy(initial: 100, jitter: 1)
        #expect(full.backoff(afterAttempt: 1, random: 0) == .zero)
        #expect(full.backoff(afterAttempt: 1, random: 1) == .milliseconds(200))
    }

    @Test func zeroBackoffStaysZero() {
        #expect(RetryPolicy.none.backoff(afterAttempt: 1, random: 1) == .zero)
        #expect(policy(initial: 0, jitter: 0.5).backoff(afterAttempt: 3, random: 1) == .zero)
    }
}
