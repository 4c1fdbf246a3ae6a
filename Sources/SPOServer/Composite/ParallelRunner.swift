import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// Runs a parallel service: every member's call is sent at once, each on a connection of its
/// own, and awaited together (`PGConcurrentQueries`), so the call takes as long as its slowest
/// member. Each member has its own deadline (its `timeout_ms`, else its service's, never past
/// the composite's) and its connection's circuit breaker; members are not retried.
struct ParallelRunner {
    let executor: Executor
    let configuration: Configuration

    /// A member ready to send, or already ended (refused before anything was sent).
    private struct Prepared {
        var outcome: MemberOutcome
        var start: ContinuousClock.Instant
        var timeoutMilliseconds: Int
        var query: PGConcurrentQueries.Query?
        var slot = 0
        var ticket: BreakerTicket?
        var connectMilliseconds: Double = 0
    }

    func run(_ service: ServiceDefinition, _ bound: [BoundParameter]) -> ParallelOutcome {
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(service.timeoutMilliseconds)
        let context: JSONValue = .object([
            .init("input", .object(bound.map { JSONValue.Member($0.spec.name, $0.value) }))
        ])
        var slots: [String: Int] = [:]
        var prepared = service.members.map { member in
            prepare(member, context: context, composite: service, deadline: deadline, slots: &slots)
        }
        let sending = prepared.indices.filter { prepared[$0].query != nil }
        let completions = PGConcurrentQueries.run(sending.map { prepared[$0].query! })
        for (index, completion) in zip(sending, completions) {
            finish(&prepared[index], completion)
        }
        return ParallelOutcome(
            members: prepared.map(\.outcome), durationMilliseconds: milliseconds(start.duration(to: .now)))
    }

    private func prepare(
        _ member: ParallelMember, context: JSONValue, composite: ServiceDefinition,
        deadline compositeDeadline: ContinuousClock.Instant, slots: inout [String: Int]
    ) -> Prepared {
        let start = ContinuousClock.now
        let arguments = member.arguments(in: context)
        var prepared = Prepared(
            outcome: MemberOutcome(
                member: member, executionID: RandomID.uuid(), service: nil, parameters: arguments,
                result: .success("null"), durationMilliseconds: 0, attempts: []),
            start: start, timeoutMilliseconds: member.timeoutMilliseconds ?? composite.timeoutMilliseconds)
        guard let service = configuration.enabledService(member.service) else {
            prepared.outcome.result = .failure(APIError(.serviceNotFound, "no enabled service named \(member.service)"))
            return prepared
        }
        prepared.outcome.service = service
        let timeout = member.timeoutMilliseconds ?? service.timeoutMilliseconds
        prepared.timeoutMilliseconds = timeout
        let deadline = min(compositeDeadline, start + .milliseconds(timeout))
        let bound: [BoundParameter]
        switch ParameterValidator(parameters: service.parameters).validate(arguments) {
        case .failure(let failure):
            prepared.outcome.result = .failure(.invalidParameters(failure.problems))
            return prepared
        case .success(let values):
            bound = values
            prepared.outcome.parameters = .object(values.map { JSONValue.Member($0.spec.name, $0.value) })
        }
        do throws(CircuitOpen) {
            prepared.ticket = try executor.breakers.admit(service)
        } catch {
            prepared.outcome.result = .failure(error.error(service: service.name))
            return prepared
        }
        let slot = slots[service.connection, default: 0]
        slots[service.connection] = slot + 1
        prepared.slot = slot
        do throws(PGError) {
            guard let definition = configuration.connections[service.connection] else {
                throw PGError(
                    kind: .connection, sqlstate: "08001", message: "connection \(service.connection) is not configured")
            }
            let connection = try executor.memberConnections.connection(
                slot: slot, primary: executor.connections, for: definition, deadline: deadline,
                serverTimeout: Executor.serverTimeout(for: service.connection, in: configuration))
            prepared.connectMilliseconds = milliseconds(start.duration(to: .now))
            let (sql, values) = Self.statement(service, bound)
            prepared.query = PGConcurrentQueries.Query(
                connection: connection, sql: sql, parameters: values, deadline: deadline)
        } catch {
            prepared.connectMilliseconds = milliseconds(start.duration(to: .now))
            executor.memberConnections.discard(slot: slot, primary: executor.connections, service.connection)
            settle(&prepared, .failure(error), service: service)
        }
        return prepared
    }

    /// The member's call, tagged with the request's correlation id like a direct call's
    /// (functions); a procedure's CALL goes alone.
    private static func statement(_ service: ServiceDefinition, _ bound: [BoundParameter]) -> (String, [String?]) {
        let plan = CallPlan(service: service, supplied: bound.map(\.spec))
        let values = bound.map(\.text)
        if let correlationID = RequestScope.current?.correlationID, let tagged = plan.taggedSQL {
            return (tagged, CallPlan.taggedValues(values, correlationID: correlationID))
        }
        return (plan.sql, values)
    }

    private func finish(_ prepared: inout Prepared, _ completion: PGConcurrentQueries.Completion) {
        guard let service = prepared.outcome.service, let query = prepared.query else { return }
        let result: Result<String, PGError>
        switch completion.result {
        case .success(let rows):
            result = Result { () throws(PGError) in
                try Self.data(rows, service, on: query.connection, deadline: query.deadline)
            }
        case .failure(let error):
            result = .failure(error)
        }
        if case .failure(let error) = result, error.kind != .server {
            executor.memberConnections.discard(slot: prepared.slot, primary: executor.connections, service.connection)
        }
        settle(&prepared, result, service: service, finishedAt: completion.finishedAt)
    }

    /// The member's `data` from its call's rows, as `Executor.run` makes it.
    private static func data(
        _ rows: PGResult, _ service: ServiceDefinition, on connection: PGConnection, deadline: ContinuousClock.Instant
    ) throws(PGError) -> String {
        switch service.resultShape {
        case .set, .scalar:
            return rows.rowCount > 0 ? (rows.value(0, 0) ?? "null") : "null"
        case .void:
            return "null"
        case .procedure:
            guard rows.rowCount > 0, rows.columnCount > 0 else { return "null" }
            let columns = (0..<rows.columnCount).map { rows.columnName($0) }
            let sql = CallPlan.outputSQL(columns: columns, parameters: service.parameters, arguments: service.arguments)
            let outputs = (0..<rows.columnCount).map { rows.value(0, $0) }
            let json = try connection.executePrepared(
                CallPlan.statementName(for: sql), sql: sql, outputs, deadline: deadline)
            return json.value(0, 0) ?? "null"
        }
    }

    /// Counts the result with the member's breaker and records it as the member's one attempt.
    private func settle(
        _ prepared: inout Prepared, _ result: Result<String, PGError>, service: ServiceDefinition,
        finishedAt: ContinuousClock.Instant = .now
    ) {
        if let ticket = prepared.ticket {
            _ = executor.breakers.record(ticket, result)
            executor.breakers.settle(ticket)
        }
        let duration = milliseconds(prepared.start.duration(to: finishedAt))
        var attempt = AttemptRecord(
            attempt: 1, outcome: .succeeded, offsetMilliseconds: 0, connectMilliseconds: prepared.connectMilliseconds,
            executeMilliseconds: max(0, duration - prepared.connectMilliseconds))
        if case .failure(let error) = result {
            attempt.outcome = AttemptOutcome(error)
            attempt.sqlstate = error.sqlstate
            attempt.message = error.message
        }
        prepared.outcome.attempts = [attempt]
        prepared.outcome.durationMilliseconds = duration
        prepared.outcome.result = result.mapError {
            APIError.executionFailed(
                $0, service: service.name, timeoutMilliseconds: prepared.timeoutMilliseconds,
                statuses: service.errorStatuses)
        }
    }
}
