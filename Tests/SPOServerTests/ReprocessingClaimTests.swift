import Testing

@testable import SPOCore
@testable import SPOServer

/// Which re-runs a reprocessing claim allows, given what the audit holds.
@Suite struct ReprocessingClaimTests {
    private func refusal(
        _ status: String?, running: String? = nil, previous: String? = nil, force: Bool = false
    ) -> ReprocessingClaim.Refusal? {
        ReprocessingClaim.refusal(status: status, running: running, previous: previous, force: force)
    }

    @Test func onlyWhatDidNotDoItsWorkIsReRunWithoutForce() {
        for status in ["failed", "timeout", "interrupted"] { #expect(refusal(status) == nil, "\(status)") }
        for status in ["succeeded", "rejected", "running"] {
            #expect(refusal(status) == .status(status))
            #expect(refusal(status, force: true) == nil)
        }
    }

    @Test func onceWithoutForceAndNeverTwiceAtATime() {
        #expect(refusal("failed", previous: "b") == .reprocessed(newExecution: "b"))
        #expect(refusal("failed", previous: "b", force: true) == nil)
        #expect(refusal("failed", running: "b", previous: "b") == .running(newExecution: "b"))
        #expect(refusal("succeeded", running: "b", previous: "b", force: true) == .running(newExecution: "b"))
        #expect(refusal(nil, force: true) == .notFound)
    }

    @Test func everyRefusalIsAConflictSayingWhatToDo() {
        #expect(ReprocessingClaim.Refusal.notFound.error(for: "x").code == .notFound)
        let status = ReprocessingClaim.Refusal.status("succeeded").error(for: "x")
        #expect(status.code == .conflict && status.message.contains(#""force": true"#))
        #expect(ReprocessingClaim.Refusal.running(newExecution: "y").error(for: "x").message.contains("as y"))
        let again = ReprocessingClaim.Refusal.reprocessed(newExecution: "y").error(for: "x")
        #expect(again.code == .conflict && again.message.contains("reprocess that one"))
    }
}
