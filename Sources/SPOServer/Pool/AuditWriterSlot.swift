import Foundation
import Glibc
import SPOCore

/// One of the pool's audit writer processes (`spo audit-writer`, `AuditWriter`), kept running by the
/// supervisor like the queue consumers: one that dies is replaced at once, one dying within 2 s
/// of start three times in a row at most once a second. Its workers write their rows themselves
/// meanwhile, so a missing writer costs throughput, never a row.
final class AuditWriterSlot {
    /// Where the workers reach it (`SPO_AUDIT_WRITER_SOCKET` in their environment).
    let socketPath: String
    private let executable: String
    private let controlConninfo: String
    private let user: ProcessUser?
    private(set) var pid: pid_t = 0
    private var startedAt = ContinuousClock.now
    private var quickDeaths = 0

    init(socketPath: String, executable: String, controlConninfo: String, user: ProcessUser?) {
        self.socketPath = socketPath
        self.executable = executable
        self.controlConninfo = controlConninfo
        self.user = user
    }

    /// `SPO_AUDIT_WRITERS` (0 runs none), else 1: one writer makes the largest groups, and the
    /// rows arriving while its group is flushed make the next one (README, Audit).
    static var configuredCount: Int {
        ProcessInfo.processInfo.environment["SPO_AUDIT_WRITERS"].flatMap(Int.init).flatMap { $0 >= 0 ? $0 : nil } ?? 1
    }

    var isRunning: Bool { pid > 0 }

    func start() {
        do {
            pid = try ChildProcess.spawn(
                [executable, "audit-writer", "--socket", socketPath] + (user.map { ["--user", $0.name] } ?? []),
                environment: Supervisor.childEnvironment(controlConninfo: controlConninfo))
            startedAt = .now
            Log.info("audit writer started", ["writer_pid": .number(Int(pid)), "socket": .string(socketPath)])
        } catch {
            pid = 0
            Log.error("could not start the audit writer", ["error": .string("\(error)")])
        }
    }

    /// Handles the exit of `pid` if it was the writer (false otherwise), replacing it unless stopping.
    func reaped(_ pid: pid_t, status: Int32, stopping: Bool = false) -> Bool {
        guard pid == self.pid, pid > 0 else { return false }
        self.pid = 0
        if stopping { return true }
        quickDeaths = startedAt.duration(to: .now) < .seconds(2) ? quickDeaths + 1 : 0
        Log.warning(
            "audit writer exited; replacing it; workers write their rows themselves meanwhile",
            ["writer_pid": .number(Int(pid)), "status": .number(Int(ChildProcess.exitCode(status)))])
        if quickDeaths < 3 { start() }
        return true
    }

    /// Restarts a writer that kept dying right after start, at most once a second.
    func respawnDue() {
        if pid == 0 && startedAt.duration(to: .now) > .seconds(1) { start() }
    }

    func signal(_ signal: Int32) {
        if pid > 0 { kill(pid, signal) }
    }
}
