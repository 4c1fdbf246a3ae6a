import Foundation
import Glibc
import SPOCore

/// A worker's side of the pool's audit writer (`AuditWriter`): hands it execution rows and
/// learns, in order, which transaction commits held them.
///
/// One connection, opened on first use and kept. A row is sent (`send`) and its commit claimed
/// later (`settlement(of:deadline:)`), so a worker may serve its next request while the row
/// commits; the writer answers frames in the order they came, so each answer belongs to the
/// oldest row still unanswered. Whatever goes wrong — no writer listening, the connection closed,
/// no answer within the deadline — every row still unanswered is `unconfirmed` and its worker
/// writes it itself (tolerating a row the writer committed after all); after a failure to reach
/// it the writer is not tried again for a second.
public final class AuditWriterClient {
    /// A row sent to the writer, whose commit is claimed with `settlement(of:deadline:)`.
    struct Ticket: Equatable {
        fileprivate let number: UInt64
    }

    /// What became of a row sent to the writer.
    enum Settlement: Equatable {
        /// Committed: nothing left to do.
        case committed
        /// The writer could not write it: the worker writes it itself.
        case failed
        /// No answer (the connection failed, the deadline passed): the writer may still commit
        /// it, so the worker writes it tolerating a row that exists.
        case unconfirmed
    }

    public let path: String
    private var descriptor: Int32 = -1
    private var retryAt: ContinuousClock.Instant?
    /// The number of the next row sent; rows are numbered across connections.
    private var nextTicket: UInt64 = 0
    /// The row whose answer comes next on this connection; every row before it either has its
    /// answer in `readAhead` or was lost with a connection (`unconfirmed`).
    private var nextAnswer: UInt64 = 0
    /// Answers read while waiting for a later row's, until their rows are claimed.
    private var readAhead: [(ticket: UInt64, settlement: Settlement)] = []
    /// Where answers are read into: one `recv` takes every answer owed that has arrived.
    private var answers = [UInt8](repeating: 0, count: 16)
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
        guard let ticket = send(frame) else { return false }
        return settlement(of: ticket, deadline: deadline, hurry: true) == .committed
    }

    /// Sends the row without waiting; nil when the writer is not available (the row was not
    /// offered). A row that could not be sent whole is `unconfirmed`.
    func send(_ frame: [UInt8]) -> Ticket? {
        guard isAvailable, descriptor >= 0 || connect() else { return nil }
        let ticket = Ticket(number: nextTicket)
        nextTicket += 1
        if !sendAll(frame) { giveUp() }
        return ticket
    }

    /// The writer's answer for a row sent earlier, waiting for it until `deadline`. Each ticket is
    /// claimed once. With `hurry`, a writer holding its group for more rows is asked to commit it
    /// now when the answer is not there yet (the caller has nothing else to do meanwhile);
    /// without, the caller waits for the group to fill, as it would have while it served.
    func settlement(of ticket: Ticket, deadline: ContinuousClock.Instant, hurry: Bool) -> Settlement {
        var hurried = !hurry
        while true {
            if let index = readAhead.firstIndex(where: { $0.ticket == ticket.number }) {
                return readAhead.remove(at: index).settlement
            }
            // Lost with a connection that failed before its answer came.
            guard ticket.number >= nextAnswer else { return .unconfirmed }
            switch readAnswers() {
            case .read: continue
            case .failed:
                giveUp()
                return .unconfirmed
            case .none:
                if !hurried {
                    hurried = true
                    guard sendAll(AuditWriterFrame.hurry) else {
                        giveUp()
                        return .unconfirmed
                    }
                }
                guard waitReadable(until: deadline) else {
                    giveUp()
                    return .unconfirmed
                }
            }
        }
    }

    /// The row's answer if it has arrived (reading what is there, without waiting or asking the
    /// writer to hurry); it stays to be claimed with `settlement(of:deadline:hurry:)`.
    func peek(_ ticket: Ticket) -> Settlement? {
        if ticket.number >= nextAnswer, readAnswers() == .failed { giveUp() }
        if let answer = readAhead.first(where: { $0.ticket == ticket.number }) { return answer.settlement }
        return ticket.number < nextAnswer ? .unconfirmed : nil
    }

    private enum Reading { case read, none, failed }

    /// Reads every answer owed that has arrived, without waiting, into `readAhead`.
    private func readAnswers() -> Reading {
        let owed = min(Int(nextTicket - nextAnswer), answers.count)
        guard owed > 0 else { return .none }
        while true {
            let count = answers.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, owed, Int32(MSG_DONTWAIT)) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return .none }
            guard count > 0 else { return .failed }
            for byte in answers[..<count] {
                guard let answer = AuditWriterFrame.Answer(rawValue: byte) else { return .failed }
                readAhead.append((nextAnswer, Settlement(answer)))
                nextAnswer += 1
            }
            return .read
        }
    }

    /// Waits for the socket to become readable; false at the deadline.
    private func waitReadable(until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let milliseconds = deadline.pollMilliseconds
            guard milliseconds > 0 else { return false }
            var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiting, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
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
                Glibc.send(descriptor, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    /// Hangs up after a failure: every row still unanswered is unconfirmed, and the worker writes
    /// for a while before trying the writer again.
    private func giveUp() {
        disconnect()
        nextAnswer = nextTicket
        retryAt = .now + Self.pause
    }

    private func disconnect() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }
}

extension AuditWriterClient.Settlement {
    fileprivate init(_ answer: AuditWriterFrame.Answer) {
        self = answer == .committed ? .committed : .failed
    }
}
