import Foundation
import SPOJSON
import SPOPostgres
import Synchronization

@testable import SPOCore
@testable import SPOServer

/// Several workers of one database, each with its own handler and control connection (as the
/// pool's processes are), sending requests at the same instant: every thread is started and
/// waits at a barrier, then all are released together.
final class Crowd {
    private let handlers: [UncheckedBox<RequestHandler>]

    /// `configure` sets each worker's handler up (an audit writer, say) before any request.
    init(size: Int, conninfo: String, configure: (RequestHandler) -> Void = { _ in }) throws {
        handlers = try (0..<size).map { _ in
            let handler = RequestHandler(
                configuration: try ConfigurationStore.load(from: try PGConnection(conninfo: conninfo)),
                control: ControlDatabase(conninfo: conninfo))
            configure(handler)
            return UncheckedBox(handler)
        }
    }

    var size: Int { handlers.count }

    /// Every worker sends `request(index)` at once; the replies in worker order.
    func send(_ request: @escaping @Sendable (Int) -> HTTPRequest) throws -> [Reply] {
        let replies = Mutex([Int: UncheckedBox<Reply>]())
        let ready = DispatchGroup()
        let done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for (index, handler) in handlers.enumerated() {
            ready.enter()
            done.enter()
            Thread {
                let prepared = request(index)
                ready.leave()
                go.wait()
                let reply = Reply(handler.value.handle(prepared))
                replies.withLock { $0[index] = UncheckedBox(reply) }
                done.leave()
            }.start()
        }
        ready.wait()
        for _ in handlers { go.signal() }
        guard done.wait(timeout: .now() + 60) == .success else {
            throw SystemFailure(description: "a worker of the crowd did not answer within 60 s")
        }
        return replies.withLock { all in (0..<handlers.count).map { all[$0]!.value } }
    }
}
