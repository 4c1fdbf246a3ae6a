import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

extension RequestHandler {
    /// Runs a saga in this worker and answers: 200 with every step's data when it completed, else
    /// the failed step's status and code with `details` naming the saga and its state. The saga
    /// log holds the parent execution; a kept `Idempotency-Key` stores this answer.
    func runSaga(
        _ service: ServiceDefinition, _ bound: [BoundParameter], _ context: RequestContext, executionID: String
    )
        -> HTTPResponse
    {
        let input = JSONValue.object(bound.map { JSONValue.Member($0.spec.name, $0.value) })
        RequestScope.current?.identify(executionID: executionID, service: service.name)
        let start = ContinuousClock.now
        sagaRunner.configuration = configuration
        let outcome = sagaRunner.start(
            executionID, service: service, input: input,
            caller: .init(
                user: context.user, correlationID: context.correlationID, ownerKey: context.principal.key?.prefix,
                idempotencyKey: context.idempotencyKey))
        observed = (service.name, 1)
        let headers = context.headers(executionID: executionID)
        guard let outcome else {
            return .error(
                APIError(
                    .auditUnavailable,
                    "the saga log (control database) stopped answering; saga \(executionID) is finished or "
                        + "compensated by recovery if it started"),
                reference: nil, headers: headers)
        }
        let response: HTTPResponse
        if let error = outcome.answerError(id: executionID) {
            // A step refused by an open breaker says when to try again, like a direct call.
            let retryAfter =
                error.code == .circuitOpen ? error.details.lazy.compactMap { $0["retry_after_s"] }.first : nil
            response = .error(
                error, reference: outcome.reference,
                headers: headers + (retryAfter?.intValue.map { [("Retry-After", String($0))] } ?? []),
                audience: context.audience)
        } else {
            response = .json(
                200,
                .object([
                    "execution_id": .string(executionID), "service": .string(service.name),
                    "status": .string(ExecutionStatus.succeeded.rawValue),
                    "duration_ms": .number((milliseconds(start.duration(to: .now)) * 1000).rounded() / 1000),
                    "data": outcome.data, "saga": outcome.sagaDocument(id: executionID),
                ]), headers: headers)
        }
        if let claim = context.heldKey { keep(response, for: claim, executionID: executionID) }
        return response
    }

    /// Stores an answer given outside `finish` (a saga's, a queued call's 202) under its
    /// `Idempotency-Key`, so a replay answers it again instead of 409 while the claim's lock lasts.
    func keep(_ response: HTTPResponse, for claim: IdempotencyClaim, executionID: String) {
        let completion = IdempotencyCompletion(claim, answer: response)
        do throws(PGError) {
            try claims.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.executePrepared(
                    "spo_saga_key_kept_v1",
                    sql: """
                        INSERT INTO spo.idempotency_key AS k (scope, key, fingerprint, service_name, state,
                            execution_id, http_status, response_body, response_headers, expires_at)
                        VALUES ($3, $4, $5, $6, 'completed', $8::uuid, $9::int, $1::text, $2::jsonb,
                            now() + make_interval(secs => $7::int))
                        ON CONFLICT (scope, key) DO UPDATE SET state = 'completed', http_status = EXCLUDED.http_status,
                            response_body = EXCLUDED.response_body, response_headers = EXCLUDED.response_headers,
                            locked_until = NULL
                        WHERE k.execution_id = EXCLUDED.execution_id
                        """, completion.values + [executionID, String(response.status)])
            }
        } catch {
            Log.warning(
                "an answer could not be kept for its Idempotency-Key",
                ["execution_id": .string(executionID), "error": .string(error.description)])
        }
    }

    /// `POST /api/sagas/{id}/compensate`: a `compensation_failed` saga's compensations that are
    /// not done run again, in this worker; 409 `SAGA_NOT_COMPENSABLE` for any other state. The
    /// answer is the saga's document, as `GET /api/sagas/{id}` reads it (`SagaQueries`).
    func compensateSaga(_ id: String, _ context: RequestContext) -> HTTPResponse {
        guard ExecutionQueries.isUUID(id) else { return fail(APIError(.notFound, "no saga \(id)"), context) }
        sagaRunner.configuration = configuration
        let queries = SagaQueries(control: control)
        do throws(APIError) {
            let retried: Bool
            do throws(PGError) {
                retried = try control.withConnection { (connection: PGConnection) throws(PGError) in
                    try SagaLog.retryCompensation(id, by: sagaRunner.holder, user: context.user, on: connection)
                }
            } catch {
                throw AdminWrites.unavailable(error)
            }
            guard retried else {
                // The document is PostgreSQL's text (`.raw`): parsed here, on this rare path only.
                guard case .raw(let text) = try queries.saga(id, for: context.principal),
                    let state = (try? JSONValue.parse(text))?["state"]?.stringValue
                else { throw APIError(.notFound, "no saga \(id)") }
                throw APIError(
                    .sagaNotCompensable, "saga \(id) is \(state); only a compensation_failed saga is compensated again")
            }
            Log.info("saga compensation retried", ["saga_id": .string(id), "user": .string(context.user)])
            _ = sagaRunner.resume(id)
            return .json(200, try queries.saga(id, for: context.principal), headers: context.headers)
        } catch {
            return fail(error, context)
        }
    }
}
