import SPOCore
import SPOJSON

/// How one member of a parallel call ended, for the answer's `meta.members` and its audit row.
public struct MemberOutcome: Sendable {
    public var member: ParallelMember
    /// The member's own execution id (its `service_execution` row).
    public var executionID: String
    /// The member service, when it exists.
    public var service: ServiceDefinition?
    /// The member's parameters as mapped (validated ones once validation passed).
    public var parameters: JSONValue
    /// The member's `data` as JSON text, or the error its call would have answered on its own.
    public var result: Result<String, APIError>
    public var durationMilliseconds: Double
    public var attempts: [AttemptRecord]

    public var status: ExecutionStatus { ExecutionStatus(answering: result.failure) }

    /// `{"status", "duration_ms", "execution_id"}`, with `error: {code, message}` when it failed.
    public var meta: JSONValue {
        var fields: [JSONValue.Member] = [
            .init("status", .string(status.rawValue)),
            .init("duration_ms", .number((durationMilliseconds * 1000).rounded() / 1000)),
            .init("execution_id", .string(executionID)),
        ]
        if case .failure(let error) = result {
            fields.append(
                .init(
                    "error",
                    .object([.init("code", .string(error.code.rawValue)), .init("message", .string(error.message))])))
        }
        return .object(fields)
    }
}
