import Foundation
import SPOCore
import SPOJSON
import SPOPostgres

/// What happened in one attempt, for `service_log`.
public struct AttemptRecord: Sendable {
    public var attempt: Int
    /// `succeeded`, `failed`, `timeout` or `connection_failed`.
    public var outcome: AttemptOutcome
    public var sqlstate: String?
    public var message: String?
    /// Milliseconds since the execution started when this attempt began.
    public var offsetMilliseconds: Double
    public var connectMilliseconds: Double
    public var executeMilliseconds: Double
}

/// The end of an execution: the `data` JSON on success, or the last failure.
public struct ExecutionOutcome: Sendable {
    public var result: Result<String, PGError>
    public var attempts: [AttemptRecord]
    public var durationMilliseconds: Double
}

/// Runs a validated call against its target database, retrying transient failures under the
/// service's retry policy, within the service's timeout (which covers every attempt and pause).
public final class Executor {
    let connections: TargetConnections
    /// The connections' circuit breakers (`executeThroughBreaker`).
    public let breakers: BreakerBoard
    /// More connections per target, for members of a parallel service that share one.
    public let memberConnections = MemberConnections()
    /// Each service's plans, by name: found by comparing the version and the supplied names in
    /// place (hashing a key of every supplied name cost a request some 4,000 instructions).
    private var plans: [String: [CachedPlan]] = [:]
    private var planCount = 0
    /// Largest `data` a call may return (`RequestLimits.maxResultBytes`); the database refuses more.
    public var maxResultBytes = RequestLimits.defaults.maxResultBytes {
        didSet { forgetPlans() }
    }
    /// Call plans kept: one per service and set of supplied parameters, so a client choosing
    /// which optional parameters to send could otherwise grow it without end.
    static let planLimit = 1000

    private struct CachedPlan {
        var version: Int
        var supplied: [String]
        var plan: CallPlan

        func matches(_ version: Int, _ parameters: [BoundParameter]) -> Bool {
            version == self.version && supplied.count == parameters.count
                && zip(supplied, parameters).allSatisfy { $0 == $1.spec.name }
        }
    }

    public init(connections: TargetConnections = TargetConnections(), breakers: BreakerBoard = BreakerBoard()) {
        self.connections = connections
        self.breakers = breakers
    }

    /// Drops cached plans and connections, after configuration changed.
    public func configurationChanged() {
        forgetPlans()
        connections.closeAll()
        memberConnections.closeAll()
    }

    /// Drops cached plans, after configuration changed to `configuration`, and the connections
    /// whose own settings changed (`TargetConnections.closeChanged`); the others stay open, with
    /// their prepared statements.
    public func configurationChanged(to configuration: Configuration) {
        forgetPlans()
        let longest = Self.serverTimeouts(in: configuration)
        let timeout = { (name: String) in longest[name] ?? .milliseconds(1000) }
        connections.closeChanged(in: configuration, serverTimeout: timeout)
        memberConnections.closeChanged(in: configuration, serverTimeout: timeout)
    }

    /// Runs the call under the service's retry policy and timeout. With a breaker `ticket`, each
    /// attempt's result is counted by the breaker, and no attempt follows one after which the
    /// breaker is no longer closed; with `transaction`, each attempt runs inside an explicit
    /// transaction on the target (a queued job, see `TargetTransaction`).
    public func execute(
        _ service: ServiceDefinition, parameters: [BoundParameter], configuration: Configuration,
        ticket: BreakerTicket? = nil, transaction: TargetTransaction? = nil
    ) -> ExecutionOutcome {
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(service.timeoutMilliseconds)
        let policy = configuration.retryPolicy(for: service)
        let plan = self.plan(service, parameters)
        let values = parameters.map(\.text)
        var attempts: [AttemptRecord] = []
        var attempt = 0
        while true {
            attempt += 1
            let (result, record) = runAttempt(
                attempt, plan: plan, values: values, service: service, configuration: configuration,
                start: start, deadline: deadline, transaction: transaction)
            attempts.append(record)
            let admitted = ticket.map { breakers.record($0, result) } ?? true
            let elapsed = milliseconds(start.duration(to: .now))
            guard admitted, case .failure(var error) = result, error.kind != .timeout, error.kind != .resultTooLarge,
                attempt < policy.maxAttempts,
                policy.isRetryable(sqlstate: error.sqlstate)
            else {
                return ExecutionOutcome(result: result, attempts: attempts, durationMilliseconds: elapsed)
            }
            // Lost after sending, the call may have run: only a routine safe to repeat runs again.
            if error.mayHaveRun && !service.isSafeToRepeat {
                error.message +=
                    " (lost after the call was sent, so it may have run; not retried: \(service.procedure)"
                    + " is VOLATILE and the service is not declared idempotent)"
                return ExecutionOutcome(result: .failure(error), attempts: attempts, durationMilliseconds: elapsed)
            }
            let pause = policy.backoff(afterAttempt: attempt, random: Double.random(in: 0..<1))
            if ContinuousClock.now + pause >= deadline {
                return ExecutionOutcome(result: result, attempts: attempts, durationMilliseconds: elapsed)
            }
            Thread.sleep(
                forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds))
        }
    }

    private func runAttempt(
        _ attempt: Int, plan: CallPlan, values: [String?], service: ServiceDefinition, configuration: Configuration,
        start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, transaction: TargetTransaction?
    ) -> (Result<String, PGError>, AttemptRecord) {
        let attemptStart = ContinuousClock.now
        var record = AttemptRecord(
            attempt: attempt, outcome: .succeeded, offsetMilliseconds: milliseconds(start.duration(to: attemptStart)),
            connectMilliseconds: 0, executeMilliseconds: 0)
        let result: Result<String, PGError>
        var connected = false
        do throws(PGError) {
            guard let definition = configuration.connections[service.connection] else {
                throw PGError(
                    kind: .connection, sqlstate: "08001", message: "connection \(service.connection) is not configured")
            }
            let connection = try connections.connection(
                for: definition, deadline: deadline,
                serverTimeout: Self.serverTimeout(for: service.connection, in: configuration))
            connected = true
            let executeStart = ContinuousClock.now
            record.connectMilliseconds = milliseconds(attemptStart.duration(to: executeStart))
            defer { record.executeMilliseconds = milliseconds(executeStart.duration(to: .now)) }
            if let transaction {
                result = .success(
                    try runInTransaction(
                        transaction, plan, values, service: service, on: connection, deadline: deadline))
            } else {
                result = .success(try run(plan, values, service: service, on: connection, deadline: deadline))
            }
        } catch {
            // A connection that never completed (a silent host) shows its time as connect time.
            if !connected { record.connectMilliseconds = milliseconds(attemptStart.duration(to: .now)) }
            if error.kind == .connection || error.kind == .timeout { connections.discard(service.connection) }
            record.outcome = AttemptOutcome(error)
            record.sqlstate = error.sqlstate
            record.message = error.message
            result = .failure(error)
        }
        return (result, record)
    }

    func run(
        _ plan: CallPlan, _ values: [String?], service: ServiceDefinition, on connection: PGConnection,
        deadline: ContinuousClock.Instant
    ) throws(PGError) -> String {
        let result = try send(plan, values, service: service, on: connection, deadline: deadline)
        switch service.resultShape {
        case .set, .scalar:
            let json = result.rowCount > 0 ? (result.value(0, 0) ?? "null") : "null"
            if let size = CallPlan.oversizeBytes(in: json) { throw tooLarge(size) }
            return json
        case .void:
            return "null"
        case .procedure:
            guard result.rowCount > 0, result.columnCount > 0 else { return "null" }
            let columns = (0..<result.columnCount).map { result.columnName($0) }
            let sql = CallPlan.outputSQL(
                columns: columns, parameters: service.parameters, arguments: service.arguments)
            let outputs = (0..<result.columnCount).map { result.value(0, $0) }
            // A CALL answers one row, which has arrived by now: only what is passed on is bounded.
            let size = outputs.reduce(0) { $0 + ($1?.utf8.count ?? 0) }
            if size > maxResultBytes { throw tooLarge(size) }
            let json = try connection.executePrepared(
                CallPlan.statementName(for: sql), sql: sql, outputs, deadline: deadline)
            return json.value(0, 0) ?? "null"
        }
    }

    private func tooLarge(_ size: Int) -> PGError {
        PGError(
            kind: .resultTooLarge, sqlstate: "54000",
            message:
                "the result is \(size) bytes of JSON, over the limit of \(maxResultBytes)"
                + " (\(RequestLimits.Setting.maxResultBytes.rawValue))")
    }

    /// Sends the call, tagging the database session with the request's correlation id first
    /// (`spo.correlation_id`, and `application_name` for pg_stat_activity): a function's call in
    /// the same statement (`CallPlan.taggedSQL`); a procedure's CALL after them in the same round
    /// trip, in a transaction of its own, since it may COMMIT.
    private func send(
        _ plan: CallPlan, _ values: [String?], service: ServiceDefinition, on connection: PGConnection,
        deadline: ContinuousClock.Instant
    ) throws(PGError) -> PGResult {
        guard let correlationID = RequestScope.current?.correlationID else {
            return try connection.executePrepared(plan.statementName, sql: plan.sql, values, deadline: deadline)
        }
        if let tagged = plan.taggedSQL, let name = plan.taggedStatementName {
            return try connection.executePrepared(
                name, sql: tagged, CallPlan.taggedValues(values, correlationID: correlationID), deadline: deadline)
        }
        return try connection.executePrepared(
            plan.statementName, sql: plan.sql, values, deadline: deadline,
            settingFirst: ["spo.correlation_id": correlationID, "application_name": "spo:" + correlationID],
            separately: true)
    }

    /// The server's `statement_timeout` on a target connection, a backstop for a statement the
    /// worker cannot cancel: the longest `timeout_ms` of the services using it, plus a second (one
    /// connection serves them all; the client-side deadline of each call is its own).
    static func serverTimeout(for connection: String, in configuration: Configuration) -> Duration {
        let longest =
            configuration.services.values.filter { $0.connection == connection }.map(\.timeoutMilliseconds)
            .max() ?? 0
        return .milliseconds(longest + 1000)
    }

    /// `serverTimeout(for:in:)` of every connection services use, in one pass over them.
    static func serverTimeouts(in configuration: Configuration) -> [String: Duration] {
        var longest: [String: Int] = [:]
        for service in configuration.services.values {
            longest[service.connection] = max(longest[service.connection] ?? 0, service.timeoutMilliseconds)
        }
        return longest.mapValues { .milliseconds($0 + 1000) }
    }

    private func forgetPlans() {
        plans.removeAll(keepingCapacity: true)
        planCount = 0
    }

    private func plan(_ service: ServiceDefinition, _ parameters: [BoundParameter]) -> CallPlan {
        if let cached = plans[service.name]?.first(where: { $0.matches(service.version, parameters) }) {
            return cached.plan
        }
        let plan = CallPlan(service: service, supplied: parameters.map(\.spec), maxResultBytes: maxResultBytes)
        // Rebuilding a plan is cheap next to the call; forgetting all at once keeps this simple.
        if planCount >= Self.planLimit { forgetPlans() }
        plans[service.name, default: []].append(
            CachedPlan(version: service.version, supplied: parameters.map(\.spec.name), plan: plan))
        planCount += 1
        return plan
    }
}

/// Milliseconds in a duration, with microsecond resolution.
func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return (Double(seconds) * 1000 + Double(attoseconds / 1_000_000_000_000) / 1000)
}
