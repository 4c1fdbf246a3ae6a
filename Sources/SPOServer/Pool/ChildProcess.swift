import Foundation
import Glibc
import SPOCore

/// Starting and waiting for child processes with `posix_spawn`, without Foundation's `Process`
/// (which reaps children itself and would race the supervisor's own `waitpid`).
public enum ChildProcess {
    /// Starts `arguments[0]` (searched in `PATH` when it has no `/`). `standardInput`, when given, becomes
    /// the child's descriptor 0 (the FastCGI listening socket for workers). The child starts with no
    /// blocked signals and default dispositions. Returns the pid.
    public static func spawn(
        _ arguments: [String], standardInput: Int32? = nil, standardOutput: Int32? = nil,
        standardError: Int32? = nil, inheriting: [Int32] = [], environment: [String: String]? = nil,
        newProcessGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput { posix_spawn_file_actions_adddup2(&actions, standardInput, 0) }
        if let standardOutput { posix_spawn_file_actions_adddup2(&actions, standardOutput, 1) }
        if let standardError { posix_spawn_file_actions_adddup2(&actions, standardError, 2) }
        // `inheriting` becomes descriptors 3, 4, …: dup2 leaves the copies open across exec.
        for (offset, descriptor) in inheriting.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, descriptor, Int32(3 + offset))
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(environmentLines) { envp in
                posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            }
        }
        guard status == 0 else {
            throw SystemFailure(description: "could not start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Runs a command to completion, capturing standard output and error together.
    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (
        status: Int32, output: String
    ) {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            throw SystemFailure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        let pid: pid_t
        do {
            pid = try spawn(
                arguments, standardOutput: pipeEnds[1], standardError: pipeEnds[1], environment: environment)
        } catch {
            close(pipeEnds[0])
            close(pipeEnds[1])
            throw error
        }
        close(pipeEnds[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        close(pipeEnds[0])
        return (wait(for: pid), String(decoding: output, as: UTF8.self))
    }

    /// Runs a command that leaves a daemon behind (`pg_ctl start`): its output goes to the file at
    /// `logPath`, because a daemon holding a pipe open would make `run` wait forever.
    public static func runDetached(_ arguments: [String], logPath: String) throws -> Int32 {
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else {
            throw SystemFailure(description: "cannot open \(logPath): \(String(cString: strerror(errno)))")
        }
        defer { close(log) }
        return wait(for: try spawn(arguments, standardOutput: log, standardError: log))
    }

    /// Waits for `pid` and returns its exit status (128 + signal when killed).
    @discardableResult
    public static func wait(for pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return exitCode(status)
    }

    /// Decodes a `waitpid` status.
    public static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
