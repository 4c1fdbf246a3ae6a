import SPOCore
import SPOJSON

/// A saga as the log holds it, for its runner to resume from (`SagaLog.load`).
struct SagaRecord {
    struct Step {
        var position: Int
        var name: String
        /// `running`, `done` or `failed`.
        var state: String
        var xid: String?
        var output: JSONValue
        var error: JSONValue?
        /// The compensation's state (`running`, `done`, `failed`), nil when none ran.
        var compensation: String?
    }

    var id: String
    var serviceName: String
    var state: SagaState
    var input: JSONValue
    var context: JSONValue
    var error: JSONValue?
    /// Until the saga's deadline (negative once it passed).
    var remainingMilliseconds: Double
    var ownerKey: String?
    var steps: [Step]
    var user: String
    var correlationID: String
    /// The parent execution's error row, once the saga ended in a failure.
    var reference: String?

    func step(at position: Int) -> Step? { steps.first { $0.position == position } }
}
