import Foundation
import Glibc
import SPOCore
import SPOJSON
import SPOPostgres

/// The queue consumers `spo serve` keeps running beside the workers (`spo consume`, one process
/// each). One that dies is replaced at once, after the supervisor ended the leases it held so
/// that its job is recovered now rather than when the lease expires; one dying within 2 s of
/// start three times in a row is restarted at most once a second.
final class ConsumerSlots {
    private final class Slot {
        var pid: pid_t = 0
        var startedAt = ContinuousClock.now
        var quickDeaths = 0
    }

    private let slots: [Slot]
    private let executable: String
    private let controlConninfo: String
    /// The user consumers switch to when the supervisor runs as root, like the workers.
    private let user: ProcessUser?

    init(count: Int, executable: String, controlConninfo: String, user: ProcessUser? = nil) {
        slots = (0..<max(count, 0)).map { _ in Slot() }
        self.executable = executable
        self.controlConninfo = controlConninfo
        self.user = user
    }

    var count: Int { slots.count }

    /// Whether any consumer process is still running.
    var anyRunning: Bool { slots.contains { $0.pid > 0 } }

    func startAll() {
        for slot in slots where slot.pid == 0 { start(slot) }
    }

    private func start(_ slot: Slot) {
        do {
            slot.pid = try ChildProcess.spawn(
                [executable, "consume"] + (user.map { ["--user", $0.name] } ?? []),
                environment: Supervisor.childEnvironment(controlConninfo: controlConninfo))
            slot.startedAt = .now
            Log.info("consumer started", ["consumer_pid": .number(Int(slot.pid))])
        } catch {
            slot.pid = 0
            Log.error("could not start a consumer", ["error": .string("\(error)")])
        }
    }

    /// Handles the exit of `pid` if it was a consumer (returns false otherwise): its leases are
    /// ended and, unless the pool is stopping, it is replaced.
    @discardableResult
    func reaped(_ pid: pid_t, status: Int32, stopping: Bool = false) -> Bool {
        guard let slot = slots.first(where: { $0.pid == pid }) else { return false }
        slot.pid = 0
        expireLeases(of: pid)
        if stopping { return true }
        slot.quickDeaths = slot.startedAt.duration(to: .now) < .seconds(2) ? slot.quickDeaths + 1 : 0
        Log.warning(
            "consumer exited; replacing it",
            ["consumer_pid": .number(Int(pid)), "status": .number(Int(ChildProcess.exitCode(status)))])
        if slot.quickDeaths < 3 { start(slot) }  // else respawnDue() retries with a pause
        return true
    }

    /// Restarts consumers that kept dying right after start, at most once a second.
    func respawnDue() {
        for slot in slots where slot.pid == 0 && slot.startedAt.duration(to: .now) > .seconds(1) { start(slot) }
    }

    func signalAll(_ signal: Int32) {
        for slot in slots where slot.pid > 0 { kill(slot.pid, signal) }
    }

    private func expireLeases(of pid: pid_t) {
        let holder = Consumer.holderName(pid: pid)
        SagaRecovery.expireLeases(ofProcess: pid, controlConninfo: controlConninfo)
        do throws(PGError) {
            let connection = try ControlDatabase.connect(controlConninfo)
            let count = try JobQueue.expireLeases(of: holder, on: connection)
            if count > 0 {
                Log.info("ended a dead consumer's leases", ["consumer": .string(holder), "jobs": .number(count)])
            }
        } catch {
            // The lease expires by itself; recovery then takes the job.
            Log.warning("could not end a dead consumer's leases", ["error": .string(error.description)])
        }
    }
}
