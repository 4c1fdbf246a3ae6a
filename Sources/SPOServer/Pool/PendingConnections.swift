import Foundation
import Glibc
import SPOCore

/// FastCGI connections a worker accepted before their request arrived.
///
/// libfcgi reads a request with blocking reads, so a connection that sends nothing would hold
/// the worker for as long as the peer likes. A connection with nothing to read yet waits here
/// instead, watched by the worker's `poll(2)` with everything else, and is closed when
/// `readTimeout` passes first. Once handed to libfcgi, the socket's receive timeout bounds a
/// request that stops half-way.
struct PendingConnections {
    /// How long an accepted connection may take to send its request (`SPO_FASTCGI_READ_TIMEOUT_MS`).
    let readTimeout: Duration
    /// At most this many wait at once; the oldest is closed to make room.
    let limit = 64
    private(set) var waiting: [(socket: Int32, expires: ContinuousClock.Instant)] = []

    init(readTimeout: Duration = PendingConnections.configuredReadTimeout) {
        self.readTimeout = readTimeout
    }

    /// `SPO_FASTCGI_READ_TIMEOUT_MS` from the environment, 5000 ms by default.
    static let configuredReadTimeout: Duration = .milliseconds(
        ProcessInfo.processInfo.environment["SPO_FASTCGI_READ_TIMEOUT_MS"].flatMap(Int.init).flatMap {
            $0 > 0 ? $0 : nil
        } ?? 5000)

    /// A connection just accepted: returned when its request is ready to be read, else kept.
    mutating func admit(_ socket: Int32) -> Int32? {
        limitReads(socket)
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) != 0 { return socket }
        if waiting.count >= limit { close(waiting.removeFirst().socket) }
        waiting.append((socket, .now + readTimeout))
        return nil
    }

    /// `poll(2)` entries for the waiting connections, in order.
    var descriptors: [pollfd] {
        var descriptors: [pollfd] = []
        appendDescriptors(to: &descriptors)
        return descriptors
    }

    /// Appends `descriptors`' entries to `out`, with no array of their own.
    func appendDescriptors(to out: inout [pollfd]) {
        for entry in waiting { out.append(pollfd(fd: entry.socket, events: Int16(POLLIN), revents: 0)) }
    }

    /// The first waiting connection `poll(2)` found ready (`revents` as `descriptors` gave them);
    /// closes those whose time is up. A connection that hung up is returned too: libfcgi finds
    /// nothing in it and closes it.
    mutating func take(_ revents: ArraySlice<pollfd>) -> Int32? {
        guard !waiting.isEmpty else { return nil }
        let now = ContinuousClock.now
        var ready: Int32?
        var kept: [(socket: Int32, expires: ContinuousClock.Instant)] = []
        for (entry, descriptor) in zip(waiting, revents) {
            if ready == nil && descriptor.revents != 0 {
                ready = entry.socket
            } else if descriptor.revents == 0 && entry.expires <= now {
                close(entry.socket)
            } else {
                kept.append(entry)
            }
        }
        waiting = kept
        return ready
    }

    /// For a worker that stops: the waiting connections whose request arrives within `bound`, in
    /// order; the others are closed.
    mutating func drain(within bound: Duration) -> [Int32] {
        let deadline = ContinuousClock.now + bound
        var ready: [Int32] = []
        while !waiting.isEmpty {
            var descriptors = self.descriptors
            let remaining = ContinuousClock.now.duration(to: deadline)
            let timeout = max(
                0,
                Int32(
                    clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds
                        / 1_000_000_000_000_000))
            if poll(&descriptors, nfds_t(descriptors.count), timeout) <= 0 { break }
            for (entry, descriptor) in zip(waiting, descriptors) where descriptor.revents != 0 {
                ready.append(entry.socket)
            }
            waiting.removeAll { entry in ready.contains(entry.socket) }
        }
        for entry in waiting { close(entry.socket) }
        waiting = []
        return ready
    }

    /// Milliseconds `poll(2)` may wait before the first waiting connection expires, at most `bound`.
    func pollTimeout(atMost bound: Int32) -> Int32 {
        guard let first = waiting.map(\.expires).min() else { return bound }
        let remaining = ContinuousClock.now.duration(to: first)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        return min(bound, Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1))
    }

    /// A request that stops arriving half-way fails libfcgi's read after the read timeout.
    private func limitReads(_ socket: Int32) {
        var value = timeval(
            tv_sec: Int(readTimeout.components.seconds),
            tv_usec: Int(readTimeout.components.attoseconds / 1_000_000_000_000))
        _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }
}
