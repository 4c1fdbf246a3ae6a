import Foundation
import Glibc
import Testing

@testable import SPOServer

/// The supervisor recovers every slot before starting its worker: with nothing left behind,
/// that must not cost a connection to the control database (a pool of 8 started seconds late).
@Suite struct LeftoverRecoveryTests {
    /// A TCP socket that listens on a free loopback port and never answers: a client connects
    /// (the kernel queues it) and then waits for the server's first byte in vain.
    private func silentListener() throws -> (socket: Int32, port: UInt16) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, generic, &length) == 0
            }
        }
        try #require(bound)
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        return (listener, UInt16(bigEndian: address.sin_port))
    }

    private func temporaryPath(_ name: String) -> String {
        let directory = NSTemporaryDirectory() + "spo-recovery-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory + "/" + name
    }

    @Test func nothingLeftBehindOpensNoConnection() throws {
        let (listener, port) = try silentListener()
        defer { close(listener) }
        let base = temporaryPath("w0.sock")
        let start = ContinuousClock.now
        LeftoverRecovery(
            journalPath: base + ".inflight", spoolPath: base + ".spool",
            controlConninfo: "host=127.0.0.1 port=\(port) dbname=spo connect_timeout=30 sslmode=disable"
        ).recover()
        let elapsed = start.duration(to: .now)
        let connection = accept(listener, nil, nil)
        if connection >= 0 { close(connection) }
        #expect(connection < 0 && errno == EAGAIN, "recovery connected although there was nothing to recover")
        // Connecting to this listener would have waited for the control timeout (3 s by default).
        #expect(elapsed < .seconds(1))
    }
}
