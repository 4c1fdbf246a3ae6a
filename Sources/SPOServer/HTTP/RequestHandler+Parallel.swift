import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

extension RequestHandler {
    /// Runs a validated call of a parallel service: its members at once (`ParallelRunner`), then
    /// the parent's audit row (with the key's answer, like any call) and the members' rows.
    func runParallel(
        _ service: ServiceDefinition, _ bound: [BoundParameter], _ effective: JSONValue, _ context: RequestContext,
        executionID: String, reprocessOf: String?
    ) -> HTTPResponse {
        journal?.begin(
            InFlightEntry(
                executionID: executionID, service: service, parameters: effective, user: context.user,
                correlationID: context.correlationID))
        defer { journal?.end() }
        let outcome = ParallelRunner(executor: executor, configuration: configuration).run(service, bound)
        let error = outcome.error
        observed = (service.name, 1)
        let reference = error.map { _ in RandomID.uuid() }
        var record = AuditRecord(
            execution: .init(
                id: executionID, serviceID: service.id, serviceName: service.name, parameters: effective,
                status: ExecutionStatus(answering: error), httpStatus: error?.status ?? 200,
                errorCode: error?.code.rawValue, durationMilliseconds: outcome.durationMilliseconds,
                user: context.user, correlationID: context.correlationID, idempotencyKey: context.idempotencyKey,
                reprocessOf: reprocessOf, attempts: [Self.parentAttempt(outcome, error)]),
            failure: reference.map { .init(reference: $0, serviceName: service.name, error: error!) })
        let headers = context.headers(executionID: executionID)
        let response: HTTPResponse
        if let error {
            response = .error(error, reference: reference, headers: headers, audience: context.audience)
        } else {
            response = .json(200, Self.body(service, executionID, outcome, reprocessOf: reprocessOf), headers: headers)
        }
        // Every member was sent (or refused) by now: the answer is what a replay must see.
        if let claim = context.heldKey { record.idempotency = IdempotencyCompletion(claim, answer: response) }
        guard write(record, context) else { return unaudited(error, ran: true, context) }
        MemberAudit.write(
            outcome, parent: executionID, user: context.user, correlationID: context.correlationID, control: control)
        return response
    }

    /// The success answer: `data` keyed by member, `meta.members` and `meta.partial`.
    static func body(
        _ service: ServiceDefinition, _ executionID: String, _ outcome: ParallelOutcome, reprocessOf: String?
    ) -> JSONValue {
        var fields: [JSONValue.Member] = [
            .init("execution_id", .string(executionID)), .init("service", .string(service.name)),
            .init("status", .string(ExecutionStatus.succeeded.rawValue)), .init("attempts", .number(1)),
            .init("duration_ms", .number((outcome.durationMilliseconds * 1000).rounded() / 1000)),
            .init("data", outcome.data), .init("meta", outcome.meta),
        ]
        if let reprocessOf { fields.insert(.init("reprocess_of", .string(reprocessOf)), at: 1) }
        return .object(fields)
    }

    /// The parent's one attempt: the whole fan-out.
    static func parentAttempt(_ outcome: ParallelOutcome, _ error: APIError?) -> AttemptRecord {
        var attempt = AttemptRecord(
            attempt: 1, outcome: .succeeded, offsetMilliseconds: 0, connectMilliseconds: 0,
            executeMilliseconds: outcome.durationMilliseconds)
        if let error {
            attempt.outcome = error.code == .timeout ? .timeout : .failed
            attempt.sqlstate = error.sqlstate
            attempt.message = error.message
        }
        return attempt
    }
}
