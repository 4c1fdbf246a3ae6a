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
///   execution, if any, is audited as `interrupted`.
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
        /// Queue consumers to run beside the workers (`spo consume`).
        public var consumers: Int

        public init(
            nginxConfigPath: String, upstreamName: String = "spo_pool", controlConninfo: String, executable: String,
            drainSeconds: Int = 30, consumers: Int = Supervisor.configuredConsumers
        ) {
            self.nginxConfigPath = nginxConfigPath
            self.upstreamName = upstreamName
            self.controlConninfo = controlConninfo
            self.executable = executable
            self.drainSeconds = drainSeconds
            self.consumers = consumers
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
        var quickDeaths = 0
        var retired = false
        init(address: UpstreamBlock.Address, queue: ListeningSocket, direct: ListeningSocket) {
            self.address = address
            self.queue = queue
            self.direct = direct
        }
        var journalPath: String { "\(Supervisor.runtimePath(for: address)).inflight" }
        var spoolPath: String { "\(Supervisor.runtimePath(for: address)).spool" }
    }

    private let options: Options
    private var slots: [UpstreamBlock.Address: Slot] = [:]
    /// The listening socket behind every unix line (hard links), made with the first one.
    private var sharedQueue: ListeningSocket?
    private let signals = SignalSet([SIGCHLD, SIGTERM, SIGINT, SIGHUP])
    private let consumers: ConsumerSlots

    public init(options: Options) {
        self.options = options
        consumers = ConsumerSlots(
            count: options.consumers, executable: options.executable, controlConninfo: options.controlConninfo)
    }

    /// Runs until told to stop; returns the exit status.
    public func run() -> Int32 {
        Log.component = "supervisor"
        signals.block()
        SignalSet.ignoreBrokenPipes()
        do {
            try reconcile()
        } catch {
            Log.error("cannot start the pool", ["error": .string("\(error)")])
            stopAll()
            return 1
        }
        consumers.startAll()
        Log.info(
            "pool started",
            [
                "workers": .number(slots.count), "consumers": .number(consumers.count),
                "upstream": .string(options.upstreamName),
            ])
        while true {
            guard let signal = signals.next(waitingMilliseconds: 1000) else {
                respawnDue()
                continue
            }
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
        let wanted = Set(block.servers)
        for (address, slot) in slots where !wanted.contains(address) {
            slot.retired = true
            if slot.pid > 0 { kill(slot.pid, SIGTERM) } else { retire(address) }
            Log.info("worker removed from the pool", ["address": .string(address.description)])
        }
        for address in block.servers {
            if let slot = slots[address] {
                // Listed again while still draining: keep the socket, replace the worker when it exits.
                slot.retired = false
                continue
            }
            let direct = try ListeningSocket(.unix(path: Supervisor.runtimePath(for: address) + ".direct"))
            let slot = Slot(address: address, queue: try queue(for: address), direct: direct)
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
        let arguments = [
            options.executable, "worker", "--control", options.controlConninfo, "--journal", slot.journalPath,
            "--spool", slot.spoolPath,
        ]
        do {
            slot.pid = try ChildProcess.spawn(
                arguments + ["--queue-fd", "3"], standardInput: slot.direct.descriptor,
                inheriting: [slot.queue.descriptor])
            slot.startedAt = .now
            Log.info(
                "worker started", ["address": .string(slot.address.description), "worker_pid": .number(Int(slot.pid))])
        } catch {
            slot.pid = 0
            Log.error("could not start a worker", ["error": .string("\(error)")])
        }
    }

    private func reapChildren() {
        var status: Int32 = 0
        while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 {
            guard let (address, slot) = slots.first(where: { $0.value.pid == pid }) else {
                consumers.reaped(pid, status: status)
                continue
            }
            slot.pid = 0
            recoverLeftovers(slot)
            if slot.retired {
                retire(address)
                continue
            }
            let code = ChildProcess.exitCode(status)
            let lived = slot.startedAt.duration(to: .now)
            slot.quickDeaths = lived < .seconds(2) ? slot.quickDeaths + 1 : 0
            Log.warning(
                "worker exited; replacing it",
                [
                    "address": .string(address.description), "worker_pid": .number(Int(pid)),
                    "status": .number(Int(code)),
                ])
            if slot.quickDeaths < 3 { start(slot) }  // else respawnDue() retries with a pause
        }
    }

    /// Restarts workers that kept dying right after start, at most once a second.
    private func respawnDue() {
        for slot in slots.values where slot.pid == 0 && !slot.retired {
            if slot.startedAt.duration(to: .now) > .seconds(1) { start(slot) }
        }
        consumers.respawnDue()
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
        let deadline = ContinuousClock.now + .seconds(options.drainSeconds)
        while slots.values.contains(where: { $0.pid > 0 }) || consumers.anyRunning {
            if ContinuousClock.now > deadline {
                for slot in slots.values where slot.pid > 0 { kill(slot.pid, SIGKILL) }
                consumers.signalAll(SIGKILL)
            }
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0, let slot = slots.values.first(where: { $0.pid == pid }) {
                slot.pid = 0
                recoverLeftovers(slot)
            } else if pid > 0 {
                consumers.reaped(pid, status: status, stopping: true)
            } else {
                usleep(20_000)
            }
        }
        for address in Array(slots.keys) { retire(address) }
        sharedQueue?.close()
        sharedQueue = nil
    }

    // MARK: - Recovery

    /// Replays what a dead worker left: its spooled audit records and its execution in flight.
    private func recoverLeftovers(_ slot: Slot) {
        LeftoverRecovery(
            journalPath: slot.journalPath, spoolPath: slot.spoolPath, controlConninfo: options.controlConninfo
        )
        .recover()
    }

    /// Where per-slot runtime files live: next to a unix socket, or in the temp directory for TCP.
    static func runtimePath(for address: UpstreamBlock.Address) -> String {
        switch address {
        case .unix(let path): path
        case .tcp(let host, let port): NSTemporaryDirectory() + "spo-\(host)-\(port)"
        }
    }
}
