import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// Runs sagas: each step through the `Executor` (breakers, timeouts and retries apply to every
/// step), inside a transaction on its target whose id and data are recorded in the saga log
/// before COMMIT, so a step commits at most once and recovery can tell whether it did; on a
/// failure (or the saga's timeout), the compensations of the done steps in reverse order, each
/// retried under the saga's retry policy.
///
/// Every transition is written to the saga log before the next piece of work starts, so whoever
/// takes the saga over after its runner died (`resume`) continues from the log alone.
final class SagaRunner {
    let control: ControlDatabase
    let executor: Executor
    var configuration: Configuration
    /// This process in `locked_by`.
    let holder: String
    private var validators: [String: (version: Int, validator: ParameterValidator)] = [:]

    init(control: ControlDatabase, executor: Executor, configuration: Configuration, holder: String) {
        self.control = control
        self.executor = executor
        self.configuration = configuration
        self.holder = holder
    }

    /// What a start needs to know of its caller.
    struct Caller {
        var user: String
        var correlationID: String
        var ownerKey: String?
        var idempotencyKey: String?
    }

    /// Starts saga `id` of `service` with its validated `input` and runs it to its end. Nil when
    /// the control database could not record the start (nothing ran) or the saga was lost to
    /// another process while it ran (that one finishes it).
    func start(_ id: String, service: ServiceDefinition, input: JSONValue, caller: Caller) -> SagaOutcome? {
        let lease = SagaLog.Lease(sagaID: id, holder: holder)
        let begun = log { connection throws(PGError) in
            try SagaLog.begin(
                lease, service: service, input: input, leaseMilliseconds: self.leaseMilliseconds(service),
                ownerKey: caller.ownerKey, user: caller.user, correlationID: caller.correlationID,
                idempotencyKey: caller.idempotencyKey, on: connection)
        }
        guard begun == true else { return nil }
        return drive(lease)
    }

    /// Continues a saga this runner holds the lease of (taken over by recovery, or the manual
    /// retry), from what the log says.
    func resume(_ id: String) -> SagaOutcome? { drive(SagaLog.Lease(sagaID: id, holder: holder)) }

    private func drive(_ lease: SagaLog.Lease) -> SagaOutcome? {
        while true {
            guard let found = log({ connection throws(PGError) in try SagaLog.load(lease.sagaID, on: connection) }),
                let record = found
            else { return nil }
            guard let service = configuration.services[record.serviceName], let saga = service.saga else {
                Log.error("saga's service is gone; left in flight", ["saga_id": .string(record.id)])
                return nil
            }
            switch record.state {
            case .started, .stepDone:
                guard forward(lease, record, service, saga) else { return nil }
            case .compensating:
                guard compensate(lease, record, service, saga) else { return nil }
            case .completed, .failed, .compensated, .compensationFailed:
                return Self.outcome(of: record)
            }
        }
    }

    // MARK: - Forward

    /// Runs the steps not done yet. False when the lease was lost or the log unreachable (the
    /// saga is another's, or recovery's, now); true when the saga moved to another state.
    private func forward(
        _ lease: SagaLog.Lease, _ record: SagaRecord, _ service: ServiceDefinition, _ saga: SagaDefinition
    ) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(record.remainingMilliseconds))
        var context = record.context
        if case .object(var members) = context {
            members.insert(.init("input", record.input), at: 0)
            context = .object(members)
        }
        for (position, step) in saga.steps.enumerated() {
            let previous = record.step(at: position)
            if previous?.state == "done" { continue }
            if previous?.state == "failed" { return failed(lease, record, saga, at: position) }
            guard let member = configuration.enabledService(step.service) else {
                let error = APIError(.serviceNotFound, "step \(step.name): service \(step.service) is gone or disabled")
                return stepFails(lease, position, step, error, audit: nil, record, saga)
            }
            if let previous, previous.state == "running" {
                switch settleRunning(lease, position, step, previous, member, record) {
                case .done: return true
                case .failed(let error): return stepFails(lease, position, step, error, audit: nil, record, saga)
                case .runAgain: break
                case .undecided: return false
                }
            }
            let remaining = milliseconds(ContinuousClock.now.duration(to: deadline))
            if remaining <= 0 {
                let error = APIError(
                    .timeout, "the saga's timeout of \(service.timeoutMilliseconds) ms passed before step \(step.name)")
                return stepFails(lease, position, step, error, audit: nil, record, saga)
            }
            return run(lease, position, step, member, remaining: Int(remaining), context: context, record, saga)
        }
        return finish(lease, SagaOutcome(state: .completed, data: SagaOutcome.data(of: record), error: nil))
    }

    private enum Settlement {
        case done, failed(APIError), runAgain, undecided
    }

    /// A step a lost runner left `running`: its recorded transaction decides.
    private func settleRunning(
        _ lease: SagaLog.Lease, _ position: Int, _ step: SagaStep, _ previous: SagaRecord.Step,
        _ member: ServiceDefinition, _ record: SagaRecord
    ) -> Settlement {
        guard let xid = previous.xid else {
            if previous.error?["outside_transaction"] == .bool(true) && !member.isSafeToRepeat {
                return .failed(
                    APIError(
                        .internalError,
                        "step \(step.name) was running outside a transaction when its runner was lost, so it may have "
                            + "run; not run again: \(member.name) is not safe to repeat"))
            }
            return .runAgain  // no transaction id: it cannot have committed
        }
        switch TargetTransactionStatus.of(
            xid, connectionName: member.connection, configuration: configuration, connections: executor.connections,
            timeout: control.timeout)
        {
        case .committed:
            let audit = SagaMemberAudit(
                executionID: RandomID.uuid(), service: member, serviceName: member.name, member: step.name,
                parameters: nil, error: nil,
                attempts: [
                    AttemptRecord(
                        attempt: 1, outcome: .succeeded,
                        message: "committed; settled from the recorded data after its runner was lost",
                        offsetMilliseconds: 0, connectMilliseconds: 0, executeMilliseconds: 0)
                ], duration: 0, user: record.user, correlationID: record.correlationID)
            let settled = log { connection throws(PGError) in
                try SagaLog.stepSettledFromRecord(
                    lease, position: position, step: step.name, audit: audit, on: connection)
            }
            return settled == true ? .done : .undecided
        case .aborted:
            return .runAgain
        case .pending:
            return .undecided  // asked again when the lease lapses
        case .unknown:
            return .failed(
                APIError(
                    .internalError,
                    "the target no longer knows transaction \(xid) of step \(step.name): it may have run"))
        }
    }

    /// Runs one step and records its end. True when the saga moved on.
    private func run(
        _ lease: SagaLog.Lease, _ position: Int, _ step: SagaStep, _ member: ServiceDefinition, remaining: Int,
        context: JSONValue, _ record: SagaRecord, _ saga: SagaDefinition
    ) -> Bool {
        var bounded = member
        bounded.timeoutMilliseconds = max(1, min(member.timeoutMilliseconds, remaining))
        let input = SagaMapping.resolve(step.parameters, in: context)
        let executionID = RandomID.uuid()
        let bound: [BoundParameter]
        var audit = SagaMemberAudit(
            executionID: executionID, service: member, serviceName: member.name, member: step.name, parameters: input,
            error: nil, attempts: [], duration: 0, user: record.user, correlationID: record.correlationID)
        switch validator(for: member).validate(input) {
        case .failure(let failure):
            let error = APIError.invalidParameters(failure.problems)
            audit.error = error
            return stepFails(lease, position, step, error, audit: audit, record, saga, input: input)
        case .success(let parameters):
            bound = parameters
        }
        let effective = JSONValue.object(bound.map { JSONValue.Member($0.spec.name, $0.value) })
        audit.parameters = effective
        let started = log { connection throws(PGError) in
            try SagaLog.stepStarted(
                lease, position: position, step: step, input: effective, executionID: executionID,
                leaseMilliseconds: bounded.timeoutMilliseconds + SagaLog.leaseMargin, on: connection)
        }
        guard started == true else { return false }
        let ticket: BreakerTicket?
        do throws(CircuitOpen) {
            ticket = try executor.breakers.admit(bounded)
        } catch {
            audit.error = error.error(service: member.name)
            return stepFails(lease, position, step, audit.error!, audit: audit, record, saga)
        }
        let transaction = TargetTransaction(
            beforeCommit: { [control] xid, data in
                (try? control.withConnection { (connection: PGConnection) throws(PGError) in
                    try SagaLog.recordCommit(lease, position: position, xid: xid, data: data, on: connection)
                }) ?? false
            },
            beforeRunningOutside: { [control] in
                (try? control.withConnection { (connection: PGConnection) throws(PGError) in
                    try SagaLog.markOutsideTransaction(lease, position: position, on: connection)
                }) ?? false
            })
        let outcome = executor.execute(
            bounded, parameters: bound, configuration: configuration, ticket: ticket, transaction: transaction)
        if let ticket { executor.breakers.settle(ticket) }
        // Another process has the saga now, or only the target knows whether COMMIT happened:
        // recovery settles it from the recorded transaction.
        if transaction.leaseLost || transaction.unresolvedXID != nil { return false }
        audit.attempts = outcome.attempts
        audit.duration = outcome.durationMilliseconds
        switch outcome.result {
        case .success(let data):
            let done = log { connection throws(PGError) in
                try SagaLog.stepFinished(
                    lease, position: position, step: step.name, data: data, error: nil, audit: audit, on: connection)
            }
            return done == true
        case .failure(let failure):
            let error = APIError.executionFailed(
                failure, service: member.name, timeoutMilliseconds: bounded.timeoutMilliseconds,
                statuses: member.errorStatuses)
            audit.error = error
            return stepFails(lease, position, step, error, audit: audit, record, saga)
        }
    }

    /// Records the step's failure, then turns to compensation.
    private func stepFails(
        _ lease: SagaLog.Lease, _ position: Int, _ step: SagaStep, _ error: APIError, audit: SagaMemberAudit?,
        _ record: SagaRecord, _ saga: SagaDefinition, input: JSONValue? = nil
    ) -> Bool {
        let audit =
            audit
            ?? SagaMemberAudit(
                executionID: RandomID.uuid(), service: configuration.services[step.service], serviceName: step.service,
                member: step.name, parameters: input, error: error, attempts: [], duration: 0, user: record.user,
                correlationID: record.correlationID)
        let recorded = log { connection throws(PGError) in
            // A step that never started has no row yet: start it, so its failure has one.
            if record.step(at: position) == nil || record.step(at: position)?.state != "running" {
                guard
                    try SagaLog.stepStarted(
                        lease, position: position, step: step, input: input ?? .object([]),
                        executionID: audit.executionID, leaseMilliseconds: SagaLog.leaseMargin, on: connection)
                else { return false }
            }
            return try SagaLog.stepFinished(
                lease, position: position, step: step.name, data: nil, error: Self.document(error), audit: audit,
                on: connection)
        }
        guard recorded == true else { return false }
        return failed(lease, record, saga, at: position)
    }

    /// After step `position` failed: compensating when a done step has a compensation, else `failed`.
    private func failed(_ lease: SagaLog.Lease, _ record: SagaRecord, _ saga: SagaDefinition, at position: Int) -> Bool
    {
        let needsUndoing = record.steps.contains { $0.state == "done" && saga.steps[$0.position].compensation != nil }
        let name = saga.steps[position].name
        guard needsUndoing else {
            guard let current = log({ connection throws(PGError) in try SagaLog.load(lease.sagaID, on: connection) }),
                let current
            else { return false }
            var outcome = Self.outcome(of: current)
            outcome.state = .failed
            outcome.failedStep = name
            return finish(lease, outcome)
        }
        return log { connection throws(PGError) in
            try SagaLog.transition(
                lease, to: .compensating, event: .sagaCompensating,
                detail: .object(["failed_step": .string(name)]), on: connection)
        } == true
    }

    // MARK: - Compensation

    /// Runs the compensations not done yet, last step first. True when the saga reached its end.
    private func compensate(
        _ lease: SagaLog.Lease, _ record: SagaRecord, _ service: ServiceDefinition, _ saga: SagaDefinition
    ) -> Bool {
        var context = record.context
        if case .object(var members) = context {
            members.insert(.init("input", record.input), at: 0)
            context = .object(members)
        }
        let policy = configuration.retryPolicy(for: service)
        for step in record.steps.reversed() where step.state == "done" && step.compensation != "done" {
            guard let compensation = saga.steps[step.position].compensation else { continue }
            var attempt = 0
            var lastError: APIError?
            repeat {
                attempt += 1
                if attempt > 1 {
                    Thread.sleep(
                        forTimeInterval: Self.seconds(
                            policy.backoff(afterAttempt: attempt - 1, random: .random(in: 0..<1))))
                }
                switch runCompensation(
                    lease, step, compensation, context: context, final: attempt >= policy.maxAttempts, record)
                {
                case nil: return false
                case .some(nil): lastError = nil
                case .some(let error?): lastError = error
                }
            } while lastError != nil && attempt < policy.maxAttempts
            if lastError != nil {
                guard
                    let current = log({ connection throws(PGError) in try SagaLog.load(lease.sagaID, on: connection) }),
                    let current
                else { return false }
                var outcome = Self.outcome(of: current)
                outcome.state = .compensationFailed
                return finish(lease, outcome)
            }
        }
        guard let current = log({ connection throws(PGError) in try SagaLog.load(lease.sagaID, on: connection) }),
            let current
        else { return false }
        var outcome = Self.outcome(of: current)
        outcome.state = .compensated
        return finish(lease, outcome)
    }

    /// One attempt of a compensation: nil when the lease was lost, else its error (nil: done).
    private func runCompensation(
        _ lease: SagaLog.Lease, _ step: SagaRecord.Step, _ compensation: SagaCompensation, context: JSONValue,
        final: Bool, _ record: SagaRecord
    ) -> APIError?? {
        let executionID = RandomID.uuid()
        let input = SagaMapping.resolve(compensation.parameters, in: context)
        let member = configuration.enabledService(compensation.service)
        var audit = SagaMemberAudit(
            executionID: executionID, service: member, serviceName: compensation.service,
            member: SagaCompensation.memberName(of: step.name), parameters: input, error: nil, attempts: [],
            duration: 0, user: record.user, correlationID: record.correlationID)
        let started = log { connection throws(PGError) in
            try SagaLog.compensationStarted(
                lease, position: step.position, step: step.name, service: compensation.service, input: input,
                executionID: executionID,
                leaseMilliseconds: (member?.timeoutMilliseconds ?? 0) + SagaLog.leaseMargin, on: connection)
        }
        guard started == true else { return nil }
        let error: APIError?
        if let member {
            switch validator(for: member).validate(input) {
            case .failure(let failure):
                error = .invalidParameters(failure.problems)
            case .success(let bound):
                let outcome = executor.execute(member, parameters: bound, configuration: configuration)
                audit.attempts = outcome.attempts
                audit.duration = outcome.durationMilliseconds
                error = outcome.result.failure.map {
                    APIError.executionFailed(
                        $0, service: member.name, timeoutMilliseconds: member.timeoutMilliseconds,
                        statuses: member.errorStatuses)
                }
            }
        } else {
            error = APIError(.serviceNotFound, "compensation service \(compensation.service) is gone or disabled")
        }
        audit.error = error
        let finished = log { connection throws(PGError) in
            try SagaLog.compensationFinished(
                lease, position: step.position, step: step.name, error: error.map(Self.document), final: final,
                audit: audit, on: connection)
        }
        guard finished == true else { return nil }
        return .some(error)
    }

    // MARK: - The end

    private func finish(_ lease: SagaLog.Lease, _ outcome: SagaOutcome) -> Bool {
        var outcome = outcome
        if outcome.error != nil { outcome.reference = RandomID.uuid() }
        return log { connection throws(PGError) in try SagaLog.finish(lease, outcome, on: connection) } == true
    }

    /// A record's outcome as its state says (the failed step's error from the log).
    static func outcome(of record: SagaRecord) -> SagaOutcome {
        let error = record.error.map { document -> APIError in
            let code = document["code"]?.stringValue.flatMap(APIError.Code.init(rawValue:)) ?? .internalError
            // An open breaker's wait comes back as its details say it (the answer's Retry-After).
            let retryAfter = document["retry_after_s"]
            return APIError(
                code, document["message"]?.stringValue ?? "",
                details: retryAfter.map { [.object(["retry_after_s": $0])] } ?? [],
                sqlstate: document["sqlstate"]?.stringValue, status: document["status"]?.intValue)
        }
        return SagaOutcome(
            state: record.state, data: SagaOutcome.data(of: record), error: record.state == .completed ? nil : error,
            failedStep: record.error?["step"]?.stringValue, reference: record.reference)
    }

    /// An error as the saga log keeps it.
    static func document(_ error: APIError) -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("code", .string(error.code.rawValue)), .init("status", .number(error.status)),
            .init("message", .string(error.message)),
            .init("sqlstate", error.sqlstate.map(JSONValue.string) ?? .null),
        ]
        if let wait = error.details.lazy.compactMap({ $0["retry_after_s"] }).first {
            members.append(.init("retry_after_s", wait))
        }
        return .object(members)
    }

    // MARK: - Helpers

    /// The lease a saga's start takes: its first step's timeout plus the margin.
    func leaseMilliseconds(_ service: ServiceDefinition) -> Int {
        let first = service.saga?.steps.first.flatMap { configuration.services[$0.service] }
        return (first?.timeoutMilliseconds ?? service.timeoutMilliseconds) + SagaLog.leaseMargin
    }

    /// Runs a saga-log statement; nil when the control database did not answer.
    private func log<T>(_ body: (PGConnection) throws(PGError) -> T) -> T? {
        do throws(PGError) {
            return try control.withConnection(body)
        } catch {
            Log.warning("saga log unreachable; recovery will resume the saga", ["error": .string(error.description)])
            return nil
        }
    }

    private func validator(for service: ServiceDefinition) -> ParameterValidator {
        if let cached = validators[service.name], cached.version == service.version { return cached.validator }
        let validator = ParameterValidator(parameters: service.parameters)
        validators[service.name] = (service.version, validator)
        return validator
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
