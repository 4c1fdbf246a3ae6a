import SPOCore
import SPOJSON

/// The end of a parallel call: every member's outcome, in configuration order.
public struct ParallelOutcome: Sendable {
    public var members: [MemberOutcome]
    public var durationMilliseconds: Double

    /// The first required member that failed: the call fails with its error.
    public var failedRequired: MemberOutcome? {
        members.first { $0.member.required && $0.result.failure != nil }
    }

    /// Whether an optional member failed (the answer is then partial).
    public var isPartial: Bool { members.contains { $0.result.failure != nil } }

    /// The answer's `data`: each member's data by member name, `null` for one that failed.
    public var data: JSONValue {
        .object(members.map { .init($0.member.name, .raw((try? $0.result.get()) ?? "null")) })
    }

    /// The answer's `meta`: `{"members": {name: meta…}, "partial": Bool}`.
    public var meta: JSONValue {
        .object([
            .init("members", .object(members.map { .init($0.member.name, $0.meta) })),
            .init("partial", .bool(isPartial)),
        ])
    }

    /// The call's error when a required member failed: that member's code and status, its
    /// message prefixed with the member, and `details` naming it with the whole `meta`.
    public var error: APIError? {
        guard let failed = failedRequired, case .failure(var error) = failed.result else { return nil }
        error.message = "member \(failed.member.name) (required) failed: " + error.message
        let naming: JSONValue = .object([.init("member", .string(failed.member.name)), .init("meta", meta)])
        error.details.append(naming)
        error.confidentialDetails?.append(naming)
        return error
    }
}
