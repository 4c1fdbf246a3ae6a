import Foundation
import Glibc
import SPOCore

/// A worker's side of the pool's audit writer (`AuditWriter`): hands it an execution row and
/// waits for the commit of the transaction holding it.
///
/// One connection, opened on first use and kept. Whatever goes wrong — no writer listening,
/// the connection closed, no answer within the deadline, or the answer `failed` — `write`
/// returns false and the worker writes the row itself (tolerating a row the writer committed
/// after all); after a failure to reach it the writer is not tried again for a second.
public final class AuditWriterClient {
    public let path: String
    private var descriptor: Int32 = -1
    private var retryAt: ContinuousClock.Instant?
    /// How long a worker writes itself after the writer could not be reached.
    static let pause: Duration = .seconds(1)

    public init(path: String) { self.path = path }

    deinit { disconnect() }

    /// `SPO_AUDIT_WRITER_SOCKET`, set by `spo serve` for its workers; nil without one.
    public static func fromEnvironment() -> AuditWriterClient? {
        guard let path = ProcessInfo.processInfo.environment["SPO_AUDIT_WRITER_SOCKET"], !path.isEmpty else {
            return nil
        }
        return AuditWriterClient(path: path)
    }

    /// Whether the writer is worth trying now (no system call).
    public var isAvailable: Bool { retryAt.map { ContinuousClock.now >= $0 } ?? true }

    /// Sends the row (a frame of an `execution` statement's values) and waits until `deadline` for
    /// its commit. True only when the writer says the row is committed.
    func write(_ frame: [UInt8], deadline: ContinuousClock.Instant) -> Bool {
        guard isAvailable, descriptor >= 0 || connect() else { return false }
        guard sendAll(frame), let answer = receiveAnswer(deadline: deadline) else {
            disconnect()
            retryAt = .now + Self.pause
            return false
        }
        return answer == .committed
    }

    private func connect() -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let fresh = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard path.utf8.count < capacity, fresh >= 0 else {
            if fresh >= 0 { close(fresh) }
            retryAt = .now + Self.pause
            return false
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fresh, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(fresh)
            retryAt = .now + Self.pause
            return false
        }
        descriptor = fresh
        retryAt = nil
        return true
    }

    private func sendAll(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                send(descriptor, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    /// Waits for the answer byte: poll, then read (two system calls when it is not there yet).
    private func receiveAnswer(deadline: ContinuousClock.Instant) -> AuditWriterFrame.Answer? {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            let milliseconds = min(
                left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000)
            var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiting, 1, Int32(milliseconds))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            var byte: UInt8 = 0
            let count = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT))
            if count == 1 { return AuditWriterFrame.Answer(rawValue: byte) }
            if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return nil }
        }
    }

    private func disconnect() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }
}
