internal import CLibPQ
import Glibc

/// Statements sent at once on separate connections and awaited together: one `poll(2)` loop over
/// every connection's socket (libpq's asynchronous API), so they run on their servers at the
/// same time and the whole takes as long as the slowest, not the sum.
///
/// Each statement has its own deadline: when it passes, that statement is cancelled on its
/// server (the others go on) and its result is a `.timeout` error; a server that ignores the
/// cancel for a second more is given up on and its connection abandoned, like
/// `PGConnection.execute`.
public enum PGConcurrentQueries {
    /// One statement to run: its connection (not shared with another query of the same call),
    /// SQL with text parameters, and deadline.
    public struct Query {
        public var connection: PGConnection
        public var sql: String
        public var parameters: [String?]
        public var deadline: ContinuousClock.Instant

        public init(connection: PGConnection, sql: String, parameters: [String?], deadline: ContinuousClock.Instant) {
            self.connection = connection
            self.sql = sql
            self.parameters = parameters
            self.deadline = deadline
        }
    }

    /// One query's result and when it arrived.
    public struct Completion {
        public var result: Result<PGResult, PGError>
        public var finishedAt: ContinuousClock.Instant
    }

    /// Runs every query and returns their results in the same order.
    public static func run(_ queries: [Query]) -> [Completion] {
        var states = queries.map(State.init)
        for index in states.indices { states[index].send() }
        while true {
            let pending = states.indices.filter { states[$0].outcome == nil }
            guard !pending.isEmpty else { break }
            let now = ContinuousClock.now
            for index in pending { states[index].checkDeadline(now) }
            let waiting = pending.filter { states[$0].outcome == nil }
            guard !waiting.isEmpty else { continue }
            var descriptors = waiting.map { pollfd(fd: PQsocket(states[$0].handle), events: Int16(POLLIN), revents: 0) }
            let timeout = waiting.map { states[$0].remainingMilliseconds(now) }.min() ?? 0
            let bounded = PGWaitingWork.current?.bound(timeout) ?? timeout
            let ready = poll(&descriptors, nfds_t(descriptors.count), bounded)
            if ready == 0 && bounded != timeout { PGWaitingWork.current?.run() }
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 {
                for index in waiting { states[index].fail(states[index].query.connection.connectionError()) }
                continue
            }
            for (slot, index) in waiting.enumerated() where descriptors[slot].revents != 0 {
                if descriptors[slot].revents & Int16(POLLNVAL) != 0 {
                    states[index].fail(states[index].query.connection.connectionError())
                } else {
                    states[index].readAvailable()
                }
            }
        }
        return states.map { Completion(result: $0.outcome!, finishedAt: $0.finishedAt) }
    }

    /// One query's progress through the loop.
    private struct State {
        let query: Query
        var handle: OpaquePointer { query.connection.handle }
        var outcome: Result<PGResult, PGError>? {
            didSet { finishedAt = .now }
        }
        var finishedAt = ContinuousClock.now
        /// Set once the cancel was sent: the server then has a second to end the statement.
        var cancelledAt: ContinuousClock.Instant?
        var last: OpaquePointer?
        var failure: PGError?

        init(_ query: Query) { self.query = query }

        mutating func send() {
            let sent = withCParameters(query.parameters) { count, values in
                PQsendQueryParams(handle, query.sql, count, nil, values, nil, nil, 0)
            }
            if sent != 1 { fail(query.connection.connectionError()) }
        }

        mutating func checkDeadline(_ now: ContinuousClock.Instant) {
            if let cancelledAt {
                if now >= cancelledAt + .seconds(1) {
                    // The server ignored the cancel: this connection can no longer be trusted.
                    query.connection.abandoned = true
                    fail(query.connection.timeoutError())
                }
            } else if now >= query.deadline {
                cancelledAt = now
                query.connection.cancel()
            }
        }

        func remainingMilliseconds(_ now: ContinuousClock.Instant) -> Int32 {
            let until = cancelledAt.map { $0 + .seconds(1) } ?? query.deadline
            let (seconds, attoseconds) = now.duration(to: until).components
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
            return Int32(clamping: max(0, milliseconds))
        }

        /// Reads what arrived and collects every result that is complete, ending at the last.
        mutating func readAvailable() {
            guard PQconsumeInput(handle) == 1 else { return fail(query.connection.connectionError()) }
            while PQisBusy(handle) == 0 {
                guard let next = PQgetResult(handle) else { return finish() }
                switch PQresultStatus(next) {
                case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                    if let last { PQclear(last) }
                    last = next
                default:
                    if failure == nil { failure = query.connection.serverError(next) }
                    PQclear(next)
                }
            }
        }

        private mutating func finish() {
            if var failure {
                if let last { PQclear(last) }
                last = nil
                if cancelledAt != nil && failure.sqlstate == "57014" { failure = query.connection.timeoutError() }
                failure.mayHaveRun = failure.kind == .connection || PQstatus(handle) != CONNECTION_OK
                outcome = .failure(failure)
            } else if let last {
                outcome = .success(PGResult(taking: last))
                self.last = nil
            } else {
                outcome = .failure(query.connection.connectionError())
            }
        }

        mutating func fail(_ error: PGError) {
            if let last { PQclear(last) }
            last = nil
            query.connection.abandoned = true
            var error = error
            error.mayHaveRun = true
            outcome = .failure(error)
        }
    }
}
