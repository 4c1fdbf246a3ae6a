import SPOCore
import SPOJSON

/// How a saga ended (or stands, when its runner lost it): what the caller is answered.
struct SagaOutcome {
    var state: SagaState
    /// `{"steps": {"<step>": <data>, …}}`: the data of every step that finished.
    var data: JSONValue
    /// The failed step's error (or the saga's timeout); nil when completed.
    var error: APIError?
    var failedStep: String?
    /// The parent execution's error row, written when the saga ends (`SagaLog.finish`).
    var reference: String? = nil

    /// The saga's own part of an answer: `{"id", "state"}` and the failed step when one failed.
    func sagaDocument(id: String) -> JSONValue {
        var members: [JSONValue.Member] = [.init("id", .string(id)), .init("state", .string(state.rawValue))]
        if let failedStep { members.append(.init("failed_step", .string(failedStep))) }
        return .object(members)
    }

    /// The error the client sees: the failed step's status and code, `details` naming the saga.
    func answerError(id: String) -> APIError? {
        guard var error else { return nil }
        error.details.append(.object(["saga": sagaDocument(id: id)]))
        if error.confidentialDetails != nil {
            error.confidentialDetails!.append(.object(["saga": sagaDocument(id: id)]))
        }
        return error
    }

    /// The `data` of a saga's steps from its record.
    static func data(of record: SagaRecord) -> JSONValue {
        .object([
            "steps": .object(
                record.steps.filter { $0.state == "done" }.map { JSONValue.Member($0.name, $0.output) })
        ])
    }
}
