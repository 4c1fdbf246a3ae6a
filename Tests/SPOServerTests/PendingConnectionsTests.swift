import Foundation
import Glibc
import Testing

@testable import SPOCore
@testable import SPOServer

/// Accepted FastCGI connections that have sent nothing wait aside and expire; real sockets.
@Suite struct PendingConnectionsTests {
    /// A connected pair of unix stream sockets: (the worker's end, the peer's end).
    private func pair() -> (Int32, Int32) {
        var ends: [Int32] = [-1, -1]
        _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends)
        return (ends[0], ends[1])
    }

    private func send(_ socket: Int32) { _ = Glibc.send(socket, "x", 1, 0) }

    /// Whether the peer sees its connection closed (without waiting).
    private func isClosed(_ peer: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(peer, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }

    @Test func aConnectionWithARequestIsServedAtOnceAndASilentOneWaits() {
        var pending = PendingConnections(readTimeout: .seconds(5))
        let (ready, readyPeer) = pair()
        send(readyPeer)
        #expect(pending.admit(ready) == ready)
        let (silent, silentPeer) = pair()
        #expect(pending.admit(silent) == nil)
        #expect(pending.waiting.map(\.socket) == [silent])
        #expect(pending.pollTimeout(atMost: 1000) == 1000)

        // Once it sends, poll(2) reports it and it is handed out.
        send(silentPeer)
        var descriptors = pending.descriptors
        #expect(poll(&descriptors, nfds_t(descriptors.count), 1000) == 1)
        #expect(pending.take(descriptors[...]) == silent)
        #expect(pending.waiting.isEmpty)
        for socket in [ready, readyPeer, silent, silentPeer] { close(socket) }
    }

    @Test func aSilentConnectionIsClosedWhenItsTimeIsUp() {
        var pending = PendingConnections(readTimeout: .milliseconds(50))
        let (silent, peer) = pair()
        #expect(pending.admit(silent) == nil)
        let timeout = pending.pollTimeout(atMost: 1000)
        #expect(timeout > 0 && timeout <= 51)
        var descriptors = pending.descriptors
        #expect(poll(&descriptors, nfds_t(descriptors.count), timeout + 20) == 0)
        #expect(pending.take(descriptors[...]) == nil)
        #expect(pending.waiting.isEmpty)
        #expect(isClosed(peer))
        close(peer)
    }

    @Test func theOldestIsClosedWhenTooManyWait() {
        var pending = PendingConnections(readTimeout: .seconds(5))
        let pairs = (0...pending.limit).map { _ in pair() }
        for (socket, _) in pairs { #expect(pending.admit(socket) == nil) }
        #expect(pending.waiting.count == pending.limit)
        #expect(isClosed(pairs[0].1))
        #expect(!isClosed(pairs[1].1))
        // The first was closed by `pending` already (closing it again could close another test's).
        for (index, (socket, peer)) in pairs.enumerated() {
            if index > 0 { close(socket) }
            close(peer)
        }
    }

    @Test func aStoppingWorkerServesTheConnectionsThatSendInTime() {
        var pending = PendingConnections(readTimeout: .seconds(5))
        let (late, latePeer) = pair()
        let (silent, silentPeer) = pair()
        #expect(pending.admit(late) == nil)
        #expect(pending.admit(silent) == nil)
        send(latePeer)
        let started = ContinuousClock.now
        #expect(pending.drain(within: .milliseconds(200)) == [late])
        #expect(started.duration(to: .now) < .seconds(2))
        #expect(pending.waiting.isEmpty)
        #expect(isClosed(silentPeer))
        for socket in [late, latePeer, silentPeer] { close(socket) }
    }

    @Test func aHandedOutConnectionHasTheReadTimeout() {
        var pending = PendingConnections(readTimeout: .milliseconds(1500))
        let (socket, peer) = pair()
        send(peer)
        #expect(pending.admit(socket) == socket)
        var value = timeval()
        var length = socklen_t(MemoryLayout<timeval>.size)
        _ = getsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &value, &length)
        #expect(value.tv_sec == 1 && value.tv_usec == 500_000)
        close(socket)
        close(peer)
    }
}
