import Testing

@testable import SPOCore

@Suite struct RetentionPeriodTests {
    @Test func aCountOfDaysOrHoursIsAnInterval() throws {
        #expect(try #require(RetentionPeriod("30d")).interval == "30 days")
        #expect(try #require(RetentionPeriod("12h")).interval == "12 hours")
        #expect(try #require(RetentionPeriod("9999d")).count == 9999)
    }

    @Test func anythingElseIsRefused() {
        for text in ["", "d", "30", "0d", "-1d", "10000d", "30 d", "30days", "1w", "３０d", "1.5d", "+3d", "30D"] {
            #expect(RetentionPeriod(text) == nil, "\(text)")
        }
    }
}
