import Testing

@testable import SPOCore

@Suite struct ErrorRowBudgetTests {
    /// How many of `count` requests at `times` the budget lets write a row.
    private func written(_ budget: inout ErrorRowBudget, _ times: [Double]) -> Int {
        var count = 0
        for time in times where budget.take(at: time) { count += 1 }
        return count
    }

    @Test func aFloodWritesAtMostTheRatePerSecond() {
        var budget = ErrorRowBudget(perSecond: 10)
        // 2,000 requests within one second: the full bucket at once, then the second's refill.
        let first = written(&budget, (0..<2000).map { 100 + Double($0) / 2000 })
        #expect(first >= 19 && first <= 20)
        // Over the next 3 s at the same pace: 10 per second more, never a burst beyond it.
        let later = written(&budget, (0..<6000).map { 101 + Double($0) / 2000 })
        #expect(later >= 29 && later <= 31)
    }

    @Test func aQuietTimeRefillsOnlyToOneSecondsWorth() {
        var budget = ErrorRowBudget(perSecond: 5)
        #expect(written(&budget, Array(repeating: 0, count: 5)) == 5)
        #expect(written(&budget, [0]) == 0)
        #expect(written(&budget, Array(repeating: 3600, count: 6)) == 5)
        #expect(written(&budget, [3600.3]) == 1)
    }

    @Test func zeroWritesNoneAndAClockGoingBackTakesNothingFree() {
        var none = ErrorRowBudget(perSecond: 0)
        #expect(written(&none, [1, 1000]) == 0)
        var budget = ErrorRowBudget(perSecond: 1)
        #expect(written(&budget, [10]) == 1)
        #expect(written(&budget, [5]) == 0)
        #expect(written(&budget, [10.5]) == 0)
        #expect(written(&budget, [11]) == 1)
    }

    @Test func theEnvironmentValueIsACountPerSecond() {
        #expect(ErrorRowBudget.parse(nil) == ErrorRowBudget(perSecond: 10))
        #expect(ErrorRowBudget.parse("3") == ErrorRowBudget(perSecond: 3))
        #expect(ErrorRowBudget.parse("0") == ErrorRowBudget(perSecond: 0))
        for bad in ["", "-1", "1.5", "ten"] { #expect(ErrorRowBudget.parse(bad) == nil) }
    }
}
