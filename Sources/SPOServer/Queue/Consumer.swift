import Foundation
import Glibc
import SPOCore
import SPOJSON
import SPOPostgres

/// `spo consume`: runs queued executions, one at a time, until SIGTERM or until its supervisor
/// is gone.
///
/// It waits on its control connection, which LISTENs to `spo_queue` (a job was queued) and
/// `spo_config` (configuration changed): no polling of the table while idle, only a wake when the
/// next job is due or the next lease expires, and at the latest every 30 seconds as a safety net.
/// A job runs through the same `Executor` as a request (validation, timeout, retry policy) inside
/// a transaction on its target whose id is recorded before COMMIT (`TargetTransaction`), and is
/// settled with its execution row in one control statement. Between jobs, at most once a second,
/// it recovers jobs whose lease expired (`recover`).
public final class Consumer {
    let control: ControlDatabase
    let executor = Executor()
    /// Runs the sagas queued with `Prefer: respond-async` and those recovery takes over.
    private lazy var sagas = SagaRunner(
        control: control, executor: executor, configuration: configuration ?? Configuration(), holder: name)
    private var configuration: Configuration?
    private var validators: [String: (version: Int, validator: ParameterValidator)] = [:]
    /// This consumer's name in `locked_by`: what its supervisor expires when it dies.
    public let name: String
    private let signals = SignalSet([SIGTERM, SIGINT, SIGQUIT])
    private let parent = getppid()
    private var nextRecovery = ContinuousClock.now
    /// A signal noticed while waiting, acted on by the main loop.
    private var pendingSignal: Int32?
    /// The longest idle wait: a lost notification costs at most this.
    static let safetyWait: Duration = .seconds(30)

    public init(controlConninfo: String, name: String = Consumer.holderName(pid: getpid())) {
        self.control = ControlDatabase(conninfo: controlConninfo)
        self.name = name
        let commit = AuditLog.CommitMode.fromEnvironment()
        control.onReconnect = { [weak self] connection throws(PGError) in
            try connection.execute("LISTEN \(JobQueue.channel)")
            try connection.execute("LISTEN \(ConfigurationStore.channel)")
            try connection.execute("SET synchronous_commit = \(commit.synchronousCommit)")
            self?.reload(from: connection)
        }
    }

    /// The `locked_by` of the consumer process `pid` on this host.
    public static func holderName(pid: pid_t) -> String {
        "\(ProcessInfo.processInfo.hostName):\(pid)"
    }

    /// Serves the queue until SIGTERM/SIGINT (finishing the job in hand) or until the supervisor is gone.
    public func run() -> Int32 {
        Log.component = "consumer"
        signals.block()
        SignalSet.ignoreBrokenPipes()
        Log.info("consumer started", ["consumer": .string(name)])
        while true {
            if let signal = pendingSignal ?? signals.next(waitingMilliseconds: 0) {
                Log.info("consumer stopping", ["signal": .number(Int(signal))])
                return 0
            }
            if getppid() != parent {
                Log.warning("supervisor is gone; consumer exiting")
                return 0
            }
            if !step() { waitForWork() }
        }
    }

    /// Handles what is due now: recovery (at most once a second) and one job. False when there
    /// was nothing to do (or the control database is away).
    @discardableResult
    func step() -> Bool {
        do throws(PGError) {
            let connection = try control.open()
            followConfiguration(control.listener ?? connection, readingSocket: false)
            var worked = false
            if ContinuousClock.now >= nextRecovery {
                nextRecovery = .now + .seconds(1)
                worked = recover() > 0
                if let configuration {
                    sagas.configuration = configuration
                    worked = SagaRecovery.sweep(sagas) > 0 || worked
                }
            }
            guard let job = try JobQueue.claim(by: name, on: connection) else { return worked }
            run(job)
            return true
        } catch {
            Log.warning("control database unreachable; retrying", ["error": .string(error.description)])
            Thread.sleep(forTimeInterval: 0.5)
            return false
        }
    }

    /// Runs every job due now (tests, and draining): returns how many steps did work.
    @discardableResult
    func drain() -> Int {
        var count = 0
        while step() { count += 1 }
        return count
    }

    /// Waits for a notification, the next due time or the safety timeout, checking signals and
    /// the supervisor every second meanwhile (no database work while waiting).
    private func waitForWork() {
        guard let pooled = try? control.open() else { return }
        let jobDue = (try? JobQueue.secondsUntilDue(on: pooled)).flatMap { $0 }
        let sagaDue = (try? SagaLog.secondsUntilLeaseExpiry(on: pooled)).flatMap { $0 }
        let due = [jobDue, sagaDue].compactMap { $0 }.min()
        let wait =
            due.map { min(Duration.milliseconds(Int(max($0, 0) * 1000) + 5), Self.safetyWait) } ?? Self.safetyWait
        let until = ContinuousClock.now + wait
        // Behind a pooler, notifications arrive on the listener, a connection of their own.
        let connection = control.listener ?? pooled
        while ContinuousClock.now < until {
            if !connection.notifications(readingSocket: false).isEmpty { return reactToNotification() }
            var descriptor = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            let slice = min(until - .now, .seconds(1))
            let ready = poll(&descriptor, 1, Int32(max(milliseconds(slice), 0)))
            if ready > 0 {
                if descriptor.revents & Int16(POLLIN) == 0 || !connection.checkAlive() { return }
                followConfiguration(connection, readingSocket: true)
                return reactToNotification()
            }
            pendingSignal = signals.next(waitingMilliseconds: 0)
            if pendingSignal != nil || getppid() != parent { return }
        }
    }

    /// A notification may be the supervisor telling that a consumer died: recover at once.
    private func reactToNotification() { nextRecovery = .now }

    private func followConfiguration(_ connection: PGConnection, readingSocket: Bool) {
        let notes = connection.notifications(readingSocket: readingSocket)
        if notes.contains(where: { $0.channel == ConfigurationStore.channel }) || configuration == nil {
            reload(from: connection)
        }
        if notes.contains(where: { $0.channel == JobQueue.channel }) { nextRecovery = .now }
    }

    private func reload(from connection: PGConnection) {
        do {
            configuration = try ConfigurationStore.load(from: connection, reusing: configuration) { problem in
                Log.warning("configuration problem", ["problem": .string(problem)])
            }
            validators.removeAll()
            if let configuration { executor.configurationChanged(to: configuration) }
        } catch {
            Log.error("could not load configuration", ["error": .string(error.description)])
        }
    }

    // MARK: - Running a job

    func run(_ job: JobQueue.Job) {
        let lease = job.lease
        // Queued by a worker that already knew a service this snapshot does not: the
        // notification may not have arrived yet, so look again before calling it gone.
        if configuration?.enabledService(lease.serviceName) == nil, let connection = try? control.open() {
            reload(from: connection)
        }
        guard let configuration, let service = configuration.enabledService(lease.serviceName) else {
            let error = APIError(.serviceNotFound, "service \(lease.serviceName) is gone or disabled")
            return settle(lease, status: .failed, error: error, attempts: [], duration: 0, data: nil, job: job)
        }
        if service.kind == .saga { return runSaga(job, service, configuration) }
        let bound: [BoundParameter]
        switch validator(for: service).validate(job.parameters) {
        case .failure(let failure):
            // The service changed since the job was queued, and its parameters no longer fit.
            let error = APIError.invalidParameters(failure.problems)
            return settle(lease, status: .rejected, error: error, attempts: [], duration: 0, data: nil, job: job)
        case .success(let parameters):
            bound = parameters
        }
        if service.kind == .parallel { return runParallel(job, service, bound, configuration) }
        let transaction = TargetTransaction(
            beforeCommit: { [control] xid, data in
                (try? control.withConnection { (connection: PGConnection) throws(PGError) in
                    try JobQueue.recordCommit(lease, xid: xid, data: data, on: connection)
                }) ?? false
            },
            beforeRunningOutside: { [control] in
                (try? control.withConnection { (connection: PGConnection) throws(PGError) in
                    try JobQueue.markOutsideTransaction(lease, on: connection)
                }) ?? false
            })
        let outcome = executor.execute(
            service, parameters: bound, configuration: configuration, transaction: transaction)
        if transaction.leaseLost { return Log.warning("job taken over while it ran; left to its new holder", ids(job)) }
        if transaction.unresolvedXID != nil {
            // The connection was lost during COMMIT: only the target knows. Recovery asks it.
            Log.warning("commit unconfirmed; recovering the job from its transaction id", ids(job))
            _ = try? control.withConnection { (connection: PGConnection) throws(PGError) in
                try JobQueue.expireLeases(of: name, on: connection)
            }
            nextRecovery = .now
            return
        }
        let error = outcome.result.failure.map {
            APIError.executionFailed(
                $0, service: service.name, timeoutMilliseconds: service.timeoutMilliseconds,
                statuses: service.errorStatuses)
        }
        settle(
            lease, status: ExecutionStatus(answering: error), error: error, attempts: outcome.attempts,
            duration: outcome.durationMilliseconds, data: try? outcome.result.get(), job: job, service: service)
    }

    /// Runs a queued saga: its start hands the job over to the saga log (the job is done, the saga
    /// in flight), which settles the execution when the saga ends.
    private func runSaga(_ job: JobQueue.Job, _ service: ServiceDefinition, _ configuration: Configuration) {
        sagas.configuration = configuration
        let outcome = sagas.start(
            job.lease.executionID, service: service, input: job.parameters,
            caller: .init(user: job.user, correlationID: job.correlationID ?? "", ownerKey: nil, idempotencyKey: nil))
        Log.debug(
            "queued saga ran",
            [
                "execution_id": .string(job.lease.executionID),
                "state": outcome.map { .string($0.state.rawValue) } ?? .null,
            ])
    }

    /// Settles the job and its execution (see `JobQueue.settle`). A settlement that cannot be
    /// written leaves the lease to expire: recovery then finds what the target committed.
    func settle(
        _ lease: JobQueue.Lease, status: ExecutionStatus, error: APIError?, attempts: [AttemptRecord],
        duration: Double, data: String?, job: JobQueue.Job? = nil, service: ServiceDefinition? = nil
    ) {
        let reference = error.map { _ in RandomID.uuid() }
        let record = AuditRecord(
            execution: .init(
                id: lease.executionID, serviceID: service?.id ?? 0, serviceName: lease.serviceName, parameters: nil,
                status: status, httpStatus: error?.status ?? 200, errorCode: error?.code.rawValue,
                durationMilliseconds: duration, user: job?.user ?? "", correlationID: job?.correlationID ?? "",
                attempts: attempts),
            failure: reference.map { .init(reference: $0, serviceName: lease.serviceName, error: error!) })
        do throws(PGError) {
            let settled = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try JobQueue.settle(lease, record, data: data, on: connection)
            }
            let fields: KeyValuePairs<String, JSONValue> = [
                "execution_id": .string(lease.executionID), "service": .string(lease.serviceName),
                "status": .string(status.rawValue), "reference": reference.map(JSONValue.string) ?? .null,
            ]
            if settled {
                Log.debug("job settled", fields)
            } else {
                Log.warning("job was no longer ours to settle", fields)
            }
        } catch {
            Log.error(
                "could not settle a job; its lease will expire and recovery settle it",
                ["execution_id": .string(lease.executionID), "error": .string(error.description)])
        }
    }

    private func ids(_ job: JobQueue.Job) -> KeyValuePairs<String, JSONValue> {
        ["execution_id": .string(job.lease.executionID), "service": .string(job.lease.serviceName)]
    }

    private func validator(for service: ServiceDefinition) -> ParameterValidator {
        if let cached = validators[service.name], cached.version == service.version { return cached.validator }
        let validator = ParameterValidator(parameters: service.parameters)
        validators[service.name] = (service.version, validator)
        return validator
    }

    // MARK: - Recovery

    /// Settles or requeues the jobs whose lease expired (their consumer died or hangs); returns
    /// how many it took. What the target says decides, never a guess:
    ///
    /// - a transaction id was recorded: committed → settled with the recorded result; aborted →
    ///   run again; still in progress, or the target unreachable → asked again later;
    /// - no id, the call in a transaction: it cannot have committed (the id is recorded before
    ///   COMMIT) → run again;
    /// - no id, outside a transaction (a procedure that commits itself): run again only if the
    ///   service is safe to repeat, else `interrupted`, saying it may have run.
    ///
    /// A job claimed `JobQueue.maxClaims` times ends `interrupted` instead of running again.
    @discardableResult
    func recover() -> Int {
        var count = 0
        while count < 100,
            let orphan = try? control.withConnection({ (connection: PGConnection) throws(PGError) in
                try JobQueue.takeOrphan(by: name, on: connection)
            })
        {
            count += 1
            recover(orphan)
        }
        return count
    }

    private func recover(_ orphan: JobQueue.Orphan) {
        let lease = orphan.lease
        if configuration?.services[lease.serviceName] == nil, let connection = try? control.open() {
            reload(from: connection)
        }
        let service = configuration?.services[lease.serviceName]
        Log.warning(
            "recovering a job whose consumer was lost",
            [
                "execution_id": .string(lease.executionID), "service": .string(lease.serviceName),
                "xid": orphan.xid.map(JSONValue.string) ?? .null, "claims": .number(lease.claim),
            ])
        guard let xid = orphan.xid else {
            if orphan.outsideTransaction && service?.isSafeToRepeat != true {
                return interrupt(
                    lease,
                    "its consumer was lost while it ran outside a transaction (the procedure commits itself), so it "
                        + "may have run; not run again: the service is not safe to repeat")
            }
            return runAgain(lease)
        }
        switch transactionStatus(xid, service: service) {
        case .committed:
            let attempt = AttemptRecord(
                attempt: 1, outcome: .succeeded,
                message: "committed; settled from the recorded result after its consumer was lost",
                offsetMilliseconds: 0, connectMilliseconds: 0, executeMilliseconds: 0)
            settle(lease, status: .succeeded, error: nil, attempts: [attempt], duration: 0, data: orphan.result)
        case .aborted:
            runAgain(lease)
        case .unknown:
            interrupt(lease, "its consumer was lost and the target no longer knows transaction \(xid): it may have run")
        case .pending:
            break  // asked again once the five-second takeover lapses
        }
    }

    private func runAgain(_ lease: JobQueue.Lease) {
        guard lease.claim < JobQueue.maxClaims else {
            return interrupt(
                lease, "its consumer was lost each of the \(lease.claim) times it was claimed; not run again")
        }
        do throws(PGError) {
            try control.withConnection { (connection: PGConnection) throws(PGError) in
                try JobQueue.requeue(lease, on: connection)
            }
        } catch {
            Log.warning("could not requeue a job yet", ["error": .string(error.description)])
        }
    }

    private func interrupt(_ lease: JobQueue.Lease, _ message: String) {
        settle(
            lease, status: .interrupted, error: APIError(.internalError, message), attempts: [], duration: 0, data: nil)
    }

    private func transactionStatus(_ xid: String, service: ServiceDefinition?) -> TargetTransactionStatus {
        guard let service else { return .unknown }
        return TargetTransactionStatus.of(
            xid, connectionName: service.connection, configuration: configuration, connections: executor.connections,
            timeout: control.timeout)
    }
}
