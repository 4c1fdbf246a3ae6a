import Foundation
import Glibc
import SPOCore
import SPOJSON
import SPOPostgres

/// `spo serve`: keeps one worker running per `server` line of the nginx upstream block.
///
/// - One queue for the pool: the unix socket paths of the lines are hard links to one listening
///   socket (`<upstream name>.sock` beside the first), which every worker takes connections from.
///   A request never waits behind a busy worker while another is idle, as with php-fpm's pool
///   socket, and the block still says how many workers there are. Each worker also has a socket
///   of its own (`<line's path>.direct`) for asking that worker directly. A TCP line is a queue
///   of its own, served by its worker.
/// - A worker that dies is replaced at once (the supervisor keeps the sockets open, so waiting
///   connections are served meanwhile by the others or the replacement); its in-flight
///   execution, if any, is audited as `interrupted`. One that keeps dying right after start is
///   restarted with a growing pause (`RestartBackoff`) and reported.
/// - The pool's counters live in `<upstream name>.metrics` beside the queue: each slot's worker
///   writes its own region, the supervisor the slots' pids and restarts (`PoolMetricsFile`).
/// - SIGTERM/SIGINT: every worker finishes the request in hand and exits; then the supervisor exits.
/// - SIGHUP: the configuration file is read again and the pool reconciled: new lines get a worker,
///   removed lines have theirs drained and their socket closed.
public final class Supervisor {
    public struct Options: Sendable {
        public var nginxConfigPath: String
        public var upstreamName: String
        public var controlConninfo: String
        /// The `spo` executable to start workers from.
        public var executable: String
        /// Seconds to wait for workers to drain before SIGKILL.
        public var drainSeconds: Int
        /// What workers are started from, when not `executable worker`: arguments put before the
        /// worker's own (a test starts a wrapper that fails on purpose).
        public var workerCommand: [String]?
        /// The user workers switch to when the supervisor runs as root (nil: they run as it does).
        public var user: ProcessUser?
        /// Queue consumers to run beside the workers (`spo consume`).
        public var consumers: Int
        /// Where the pool's state files (journals, spools, metrics) live: a private directory.
        /// Nil: the directory of the block's first unix line.
        public var runDirectory: String?

        public init(
            nginxConfigPath: String, upstreamName: String = "spo_pool", controlConninfo: String, executable: String,
            drainSeconds: Int = 30, workerCommand: [String]? = nil, user: ProcessUser? = nil,
            consumers: Int = Supervisor.configuredConsumers, runDirectory: String? = nil
        ) {
            self.nginxConfigPath = nginxConfigPath
            self.upstreamName = upstreamName
            self.controlConninfo = controlConninfo
            self.executable = executable
            self.drainSeconds = drainSeconds
            self.workerCommand = workerCommand
            self.user = user
            self.consumers = consumers
            self.runDirectory = runDirectory
        }
    }

    /// `SPO_CONSUMERS` from the environment (0 runs none), else 2.
    public static var configuredConsumers: Int {
        ProcessInfo.processInfo.environment["SPO_CONSUMERS"].flatMap(Int.init).flatMap { $0 >= 0 ? $0 : nil } ?? 2
    }

    private final class Slot {
        let address: UpstreamBlock.Address
        /// Where nginx's connections for this line wait: the pool's queue, or its own for TCP.
        let queue: ListeningSocket
        /// This worker's own socket, its standard input.
        let direct: ListeningSocket
        var pid: pid_t = 0
        var startedAt = ContinuousClock.now
        var backoff = RestartBackoff()
        /// When a worker that died quickly is started again.
        var restartAt: ContinuousClock.Instant?
        var started = false
        /// Its region of the pool's metrics file, if it got one.
        var metricsSlot: Int?
        var retired = false
        /// Where its state files are: beside its unix socket, or in the run directory for TCP.
        let runtimePath: String
        init(address: UpstreamBlock.Address, queue: ListeningSocket, direct: ListeningSocket, runtimePath: String) {
            self.address = address
            self.queue = queue
            self.direct = direct
            self.runtimePath = runtimePath
        }
        var journalPath: String { "\(runtimePath).inflight" }
        var spoolPath: String { "\(runtimePath).spool" }
    }

    private let options: Options
    private var slots: [UpstreamBlock.Address: Slot] = [:]
    /// The listening socket behind every unix line (hard links), made with the first one.
    private var sharedQueue: ListeningSocket?
    private let signals = SignalSet([SIGCHLD, SIGTERM, SIGINT, SIGHUP])
    private var metrics: PoolMetricsFile?
    private let consumers: ConsumerSlots
    /// The pool's group-commit audit writers, started with the first reconcile (they need the run directory).
    private var auditWriters: [AuditWriterSlot] = []
    /// Which writer the next worker started is given (round robin).
    private var nextAuditWriter = 0
    /// The site file's `client_max_body_size`, given to every worker (`NginxBodyLimit`).
    private var bodyLimit = NginxBodyLimit.nginxDefault

    public init(options: Options) {
        self.options = options
        consumers = ConsumerSlots(
            count: options.consumers, executable: options.executable, controlConninfo: options.controlConninfo,
            user: options.user)
    }

    /// Runs until told to stop; returns the exit status.
    public func run() -> Int32 {
        Log.component = "supervisor"
        signals.block()
        SignalSet.ignoreBrokenPipes()
        openMetrics()
        do {
            try reconcile()
        } catch {
            Log.error("cannot start the pool", ["error": .string("\(error)")])
            stopAll()
            return 1
        }
        dropRootIfPossible()
        consumers.startAll()
        Log.info(
            "pool started",
            [
                "workers": .number(slots.count), "consumers": .number(consumers.count),
                "upstream": .string(options.upstreamName),
            ])
        while true {
            respawnDue()
            guard let signal = signals.next(waitingMilliseconds: millisecondsToNextRestart()) else { continue }
            switch signal {
            case SIGCHLD:
                reapChildren()
            case SIGHUP:
                Log.info("reloading the pool from \(options.nginxConfigPath)")
                do { try reconcile() } catch {
                    Log.error("pool reload failed; keeping the current pool", ["error": .string("\(error)")])
                }
            default:
                Log.info("stopping: draining workers", ["signal": .number(Int(signal))])
                stopAll()
                Log.info("stopped")
                return 0
            }
        }
    }

    // MARK: - Pool changes

    private func reconcile() throws {
        let text = try String(contentsOfFile: options.nginxConfigPath, encoding: .utf8)
        let block = try UpstreamBlock.parse(text, name: options.upstreamName)
        let limit = try NginxBodyLimit.parse(text)
        if limit != bodyLimit {
            bodyLimit = limit
            // Running workers hold the old limit: each finishes its request and is replaced.
            for slot in slots.values where slot.pid > 0 && !slot.retired { kill(slot.pid, SIGTERM) }
            Log.info("body limit from client_max_body_size", ["bytes": .number(limit)])
        }
        let wanted = Set(block.servers)
        for (address, slot) in slots where !wanted.contains(address) {
            slot.retired = true
            if let index = slot.metricsSlot { metrics?.setRetired(true, slot: index) }
            if slot.pid > 0 { kill(slot.pid, SIGTERM) } else { retire(address) }
            Log.info("worker removed from the pool", ["address": .string(address.description)])
        }
        startAuditWriters(runDirectory(block))
        for address in block.servers {
            if let slot = slots[address] {
                // Listed again while still draining: keep the socket, replace the worker when it exits.
                slot.retired = false
                if let index = slot.metricsSlot { metrics?.setRetired(false, slot: index) }
                continue
            }
            let runtimePath = try Supervisor.runtimePath(for: address, in: runDirectory(block))
            let direct = try ListeningSocket(.unix(path: runtimePath + ".direct"))
            let slot = Slot(address: address, queue: try queue(for: address), direct: direct, runtimePath: runtimePath)
            slot.metricsSlot = metrics?.slot(for: address.description)
            if let index = slot.metricsSlot { metrics?.setRetired(false, slot: index) }
            slots[address] = slot
            recoverLeftovers(slot)  // of a worker of a previous run, killed with its supervisor
            start(slot)
        }
    }

    /// The pool's queue with `address` linked to it, or a socket of its own for a TCP line (or a
    /// path the queue cannot be linked to, on another file system).
    private func queue(for address: UpstreamBlock.Address) throws -> ListeningSocket {
        guard case .unix(let path) = address else { return try ListeningSocket(address) }
        if sharedQueue == nil {
            let directory = (path as NSString).deletingLastPathComponent
            sharedQueue = try ListeningSocket(.unix(path: directory + "/" + options.upstreamName + ".sock"))
        }
        guard let shared = sharedQueue else { return try ListeningSocket(address) }
        do {
            try shared.link(at: path)
            return shared
        } catch {
            Log.warning(
                "this line gets a queue of its own", ["address": .string(path), "error": .string("\(error)")])
            return try ListeningSocket(address)
        }
    }

    private func start(_ slot: Slot) {
        var arguments = [
            "--journal", slot.journalPath, "--spool", slot.spoolPath, "--queue-fd", "3", "--max-body-bytes",
            String(bodyLimit),
        ]
        if let metrics, let index = slot.metricsSlot {
            arguments += ["--metrics", metrics.path, "--metrics-slot", String(index)]
        }
        if let user = options.user {
            arguments += ["--user", user.name]
            // Recovery, running as root, may have made the slot's files: the worker must open them.
            user.handOver(
                InFlightJournal.slotPaths(slot.journalPath) + [slot.spoolPath, slot.spoolPath + ".rejected"]
                    + (metrics.map { [$0.path] } ?? []))
        }
        slot.restartAt = nil
        do {
            slot.pid = try ChildProcess.spawn(
                (options.workerCommand ?? [options.executable, "worker"]) + arguments,
                standardInput: slot.direct.descriptor, inheriting: [slot.queue.descriptor],
                environment: workerEnvironment())
            slot.startedAt = .now
            if let index = slot.metricsSlot {
                if slot.started { metrics?.countRestart(slot: index) }
                metrics?.setPID(slot.pid, slot: index)
            }
            slot.started = true
            Log.info(
                "worker started", ["address": .string(slot.address.description), "worker_pid": .number(Int(slot.pid))])
        } catch {
            slot.pid = 0
            slot.restartAt = .now + RestartBackoff.firstPause
            Log.error("could not start a worker", ["error": .string("\(error)")])
        }
    }

    private func reapChildren() {
        var status: Int32 = 0
        while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 {
            guard let (address, slot) = slots.first(where: { $0.value.pid == pid }) else {
                if auditWriters.contains(where: { $0.reaped(pid, status: status) }) { continue }
                consumers.reaped(pid, status: status)
                continue
            }
            slot.pid = 0
            if let index = slot.metricsSlot { metrics?.setPID(0, slot: index) }
            recoverLeftovers(slot)
            SagaRecovery.expireLeases(ofProcess: pid, controlConninfo: options.controlConninfo)
            if slot.retired {
                retire(address)
                continue
            }
            let code = ChildProcess.exitCode(status)
            let pause = slot.backoff.exited(after: slot.startedAt.duration(to: .now))
            if let index = slot.metricsSlot {
                metrics?.setCrashStreak(slot.backoff.streak, looping: slot.backoff.isCrashLooping, slot: index)
            }
            let fields: KeyValuePairs<String, JSONValue> = [
                "address": .string(address.description), "worker_pid": .number(Int(pid)),
                "status": .number(Int(code)), "quick_deaths": .number(slot.backoff.streak),
                "restart_in_s": .number(Double(pause.components.seconds)),
            ]
            if pause == .zero {
                Log.warning("worker exited; replacing it", fields)
                start(slot)
            } else {
                Log.error("worker keeps dying right after start; restarting it with backoff", fields)
                slot.restartAt = .now + pause
            }
        }
    }

    /// Starts the workers whose backoff pause is over, and ends the streak of those that stayed up.
    private func respawnDue() {
        let now = ContinuousClock.now
        for slot in slots.values where !slot.retired {
            if slot.pid == 0, let due = slot.restartAt, due <= now { start(slot) }
            if slot.pid > 0, slot.backoff.running(for: slot.startedAt.duration(to: now)) {
                Log.info(
                    "worker stays up again; restarts are immediate", ["address": .string(slot.address.description)])
                if let index = slot.metricsSlot { metrics?.setCrashStreak(0, looping: false, slot: index) }
            }
        }
        consumers.respawnDue()
        for writer in auditWriters { writer.respawnDue() }
    }

    /// How long the loop may wait for a signal: a second, or less when a restart is due sooner.
    private func millisecondsToNextRestart() -> Int {
        let now = ContinuousClock.now
        let waits = slots.values.compactMap { slot -> Duration? in
            guard slot.pid == 0, !slot.retired, let due = slot.restartAt else { return nil }
            return max(now.duration(to: due), .zero)
        }
        guard let soonest = waits.min(), soonest < .seconds(1) else { return 1000 }
        return Int(soonest.components.seconds * 1000 + soonest.components.attoseconds / 1_000_000_000_000_000) + 1
    }

    /// Makes the pool's metrics file beside the queue; without it each worker counts on its own.
    private func openMetrics() {
        guard metrics == nil else { return }
        guard
            let path = Supervisor.metricsPath(
                nginxConfigPath: options.nginxConfigPath, upstream: options.upstreamName,
                runDirectory: options.runDirectory)
        else { return }
        do {
            metrics = try PoolMetricsFile(path: path)
        } catch {
            Log.error(
                "cannot make the pool's metrics file: /metrics shows one worker's counts",
                ["path": .string(path), "error": .string(error.description)])
        }
    }

    /// `<upstream>.metrics` in the run directory (`--run-dir`, else the directory of the block's
    /// first unix line); nil without one (each worker then counts on its own).
    static func metricsPath(nginxConfigPath: String, upstream: String, runDirectory: String? = nil) -> String? {
        if let runDirectory { return runDirectory + "/\(upstream).metrics" }
        let text = (try? String(contentsOfFile: nginxConfigPath, encoding: .utf8)) ?? ""
        let block = try? UpstreamBlock.parse(text, name: upstream)
        for address in block?.servers ?? [] {
            if case .unix(let path) = address {
                return (path as NSString).deletingLastPathComponent + "/\(upstream).metrics"
            }
        }
        return nil
    }

    private func retire(_ address: UpstreamBlock.Address) {
        guard let slot = slots.removeValue(forKey: address) else { return }
        slot.direct.close()
        if slot.queue === sharedQueue, case .unix(let path) = address {
            unlink(path)  // the queue stays for the other lines
        } else {
            slot.queue.close()
        }
    }

    private func stopAll() {
        for slot in slots.values where slot.pid > 0 { kill(slot.pid, SIGTERM) }
        consumers.signalAll(SIGTERM)
        for writer in auditWriters { writer.signal(SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(options.drainSeconds)
        while slots.values.contains(where: { $0.pid > 0 }) || consumers.anyRunning
            || auditWriters.contains(where: \.isRunning)
        {
            if ContinuousClock.now > deadline {
                for slot in slots.values where slot.pid > 0 { kill(slot.pid, SIGKILL) }
                consumers.signalAll(SIGKILL)
                for writer in auditWriters { writer.signal(SIGKILL) }
            }
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0, let slot = slots.values.first(where: { $0.pid == pid }) {
                slot.pid = 0
                if let index = slot.metricsSlot { metrics?.setPID(0, slot: index) }
                recoverLeftovers(slot)
            } else if pid > 0, !auditWriters.contains(where: { $0.reaped(pid, status: status, stopping: true) }) {
                consumers.reaped(pid, status: status, stopping: true)
            } else {
                usleep(20_000)
            }
        }
        for address in Array(slots.keys) { retire(address) }
        sharedQueue?.close()
        sharedQueue = nil
    }

    /// With the sockets bound, root is needed no more if the workers' user can start workers from
    /// the executable and read the configuration; then the supervisor becomes that user for good.
    /// Later sockets (SIGHUP) must then be where that user may create them.
    private func dropRootIfPossible() {
        guard let user = options.user, ProcessUser.isRoot else { return }
        for (path, access) in [(options.executable, X_OK), (options.nginxConfigPath, R_OK)]
        where !user.mayAccess(path, access) {
            Log.warning(
                "the supervisor stays root: its user could not reach this file",
                ["user": .string(user.name), "path": .string(path)])
            return
        }
        // Lines added later (SIGHUP) are hard links to the queue: with protected_hardlinks (the
        // default), only the socket's owner may make one.
        if let queue = sharedQueue, case .unix(let path) = queue.address { user.handOver([path], keepingGroup: true) }
        do {
            try user.become()
            Log.info("the supervisor runs as its workers' user now", ["user": .string(user.name)])
        } catch {
            Log.warning("the supervisor stays root", ["error": .string("\(error)")])
        }
    }

    // MARK: - Recovery

    /// Replays what a dead worker left: its spooled audit records and its execution in flight.
    private func recoverLeftovers(_ slot: Slot) {
        LeftoverRecovery(
            journalPath: slot.journalPath, spoolPath: slot.spoolPath, controlConninfo: options.controlConninfo
        )
        .recover()
    }

    /// Starts the audit writers once, in the pool's run directory (`SPO_AUDIT_WRITERS`, 0: none).
    private func startAuditWriters(_ directory: String?) {
        guard auditWriters.isEmpty, let directory else { return }
        auditWriters = (0..<AuditWriterSlot.configuredCount).map { index in
            AuditWriterSlot(
                socketPath: AuditWriter.socketPath(runDirectory: directory, index: index),
                executable: options.executable, controlConninfo: options.controlConninfo, user: options.user)
        }
        for writer in auditWriters { writer.start() }
    }

    /// A worker's environment: a child's, and where its audit writer listens (the writers take
    /// the workers in turn, so their commits overlap in PostgreSQL's own group commit).
    private func workerEnvironment() -> [String: String] {
        var environment = Supervisor.childEnvironment(controlConninfo: options.controlConninfo)
        guard !auditWriters.isEmpty else { return environment }
        environment["SPO_AUDIT_WRITER_SOCKET"] = auditWriters[nextAuditWriter % auditWriters.count].socketPath
        nextAuditWriter += 1
        return environment
    }

    /// The environment of a worker or consumer: this process's, plus the control conninfo in
    /// `SPO_CONTROL` (read and removed by the child), so no command line shows it, and
    /// `mallocTunables` unless `GLIBC_TUNABLES` is set already (then it is the operator's).
    static func childEnvironment(controlConninfo: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SPO_CONTROL"] = controlConninfo
        if environment["GLIBC_TUNABLES"] == nil { environment["GLIBC_TUNABLES"] = mallocTunables }
        return environment
    }

    /// glibc's malloc keeps up to 7 freed blocks of a size per thread for the next allocation of
    /// that size; a request frees more than that of several sizes, and each block beyond went
    /// through the slower bins: 3 % of a worker's instructions per request (callgrind). 64 keeps
    /// what a request frees, at most 64 blocks of each of the 64 sizes up to 1 KiB, 4 MiB held.
    static let mallocTunables = "glibc.malloc.tcache_count=64"

    /// Where per-slot runtime files live: next to a unix socket, or in the run directory for TCP
    /// (never a shared directory such as /tmp, where another user could plant a link first).
    static func runtimePath(for address: UpstreamBlock.Address, in runDirectory: String?) throws -> String {
        switch address {
        case .unix(let path): return path
        case .tcp(let host, let port):
            guard let runDirectory else {
                throw SystemFailure(
                    description: "the pool has no unix server line: say where its state files go with --run-dir")
            }
            return runDirectory + "/tcp-\(host)-\(port)"
        }
    }

    /// The run directory: the option's, else that of the block's first unix line.
    private func runDirectory(_ block: UpstreamBlock?) -> String? {
        if let directory = options.runDirectory { return directory }
        for case .unix(let path) in block?.servers ?? [] { return (path as NSString).deletingLastPathComponent }
        return nil
    }
}
