import Testing

@testable import SPOCore

@Suite struct PreferenceTests {
    @Test func respondAsyncIsOneTokenAmongPreferences() {
        #expect(Preference.respondsAsync("respond-async"))
        #expect(Preference.respondsAsync("Respond-Async"))
        #expect(Preference.respondsAsync("return=minimal, respond-async; wait=10"))
        #expect(Preference.respondsAsync(" respond-async ,handling=strict"))
        #expect(!Preference.respondsAsync("return=representation"))
        #expect(!Preference.respondsAsync("respond-asynchronously"))
        #expect(!Preference.respondsAsync("handling=respond-async"))
        #expect(!Preference.respondsAsync(""))
    }
}
