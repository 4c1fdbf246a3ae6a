import Foundation
import Glibc

extension ChildProcess {
    /// Runs a command to completion with `input` as its standard input (a pipe), its output
    /// appended to the file at `logPath`: for handing a command a secret without putting it on a
    /// command line, where `ps` shows it to everyone.
    public static func runFeeding(_ input: String, to arguments: [String], logPath: String) throws -> Int32 {
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard log >= 0 else {
            throw SystemFailure(description: "cannot open \(logPath): \(String(cString: strerror(errno)))")
        }
        defer { close(log) }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            throw SystemFailure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        // Only the copy on its standard input may reach the child: a write end it kept would
        // keep it waiting for the end of its input forever.
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try spawn(arguments, standardInput: pipeEnds[0], standardOutput: log, standardError: log)
        } catch {
            close(pipeEnds[0])
            close(pipeEnds[1])
            throw error
        }
        close(pipeEnds[0])
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(pipeEnds[1], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }  // the command stopped reading; its status says why
            offset += count
        }
        close(pipeEnds[1])
        return wait(for: pid)
    }
}
