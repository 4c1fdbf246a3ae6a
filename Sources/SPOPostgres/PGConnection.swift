internal import CLibPQ
import Foundation
import Glibc

/// One libpq connection. Owns its `PGconn` and finishes it, even when connecting failed.
///
/// Queries are sent asynchronously and awaited with `poll(2)`, so every statement can carry a
/// deadline: when it passes, the statement is cancelled on the server (not just abandoned) and
/// the call throws a `.timeout` error.
///
/// Not thread-safe: one connection belongs to one worker thread at a time.
public final class PGConnection {
    let handle: OpaquePointer
    private var prepared: PreparedStatementCache
    /// False behind a transaction pooler: statements are sent unnamed (`PGConnectOptions.namedStatements`).
    private let namedStatements: Bool
    /// The deadline of statements run without one, counted from their start.
    private let statementTimeout: Duration?
    /// The notice handler, kept alive as long as libpq may call it (until `PQfinish`).
    private let noticeReceiver: PGNoticeReceiver?

    /// Connects with a libpq conninfo string (`host=… dbname=…` or a `postgresql://` URI), within
    /// `options.deadline`; a deadline that passes throws a `.timeout` error.
    public init(conninfo: String, options: PGConnectOptions = PGConnectOptions()) throws(PGError) {
        let handle = try PGConnector.connect(conninfo, options)
        self.handle = handle
        statementTimeout = options.statementTimeout
        prepared = PreparedStatementCache(limit: options.preparedStatementLimit)
        namedStatements = options.namedStatements
        noticeReceiver = options.noticeHandler.map { PGNoticeReceiver(handler: $0, on: handle) }
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is usable as far as libpq knows.
    public var isHealthy: Bool {
        !abandoned && PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// Set when a statement could not be brought to an end; the owner should replace the connection.
    var abandoned = false

    /// The server process id serving this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// The socket, for callers that wait for notifications alongside other descriptors.
    public var socket: Int32 { PQsocket(handle) }

    /// Runs `sql` with text parameters and waits for its result.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = [], deadline: ContinuousClock.Instant? = nil)
        throws(PGError) -> PGResult
    {
        let sent = withCParameters(parameters) { count, values in
            PQsendQueryParams(handle, sql, count, nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError() }
        return try awaitSent(deadline: deadline ?? defaultDeadline)
    }

    /// Runs the named prepared statement, preparing it from `sql` the first time this connection
    /// sees the name. Names must change when their SQL does. At most
    /// `PGConnectOptions.preparedStatementLimit` stay prepared: preparing one more first
    /// deallocates the least recently used.
    @discardableResult
    public func executePrepared(
        _ name: String, sql: String, _ parameters: [String?], deadline: ContinuousClock.Instant? = nil
    ) throws(PGError) -> PGResult {
        let deadline = deadline ?? defaultDeadline
        try prepare(name, sql: sql, parameterCount: parameters.count, deadline: deadline)
        guard send(name, sql: sql, parameters) else { throw connectionError() }
        return try awaitSent(deadline: deadline)
    }

    /// Sends the statement `name` (prepared), or its SQL unnamed when this connection names none.
    private func send(_ name: String, sql: String, _ parameters: [String?]) -> Bool {
        withCParameters(parameters) { count, values in
            // withCString, not the implicit conversion: that copies the string into a new array.
            namedStatements
                ? name.withCString { PQsendQueryPrepared(handle, $0, count, values, nil, nil, 0) }
                : sql.withCString { PQsendQueryParams(handle, $0, count, nil, values, nil, nil, 0) }
        } == 1
    }

    /// Prepares `name` from `sql` unless this connection has it, deallocating the least recently
    /// used statement when the cache is full.
    private func prepare(_ name: String, sql: String, parameterCount: Int, deadline: ContinuousClock.Instant?)
        throws(PGError)
    {
        guard namedStatements, !prepared.use(name) else { return }
        if let evicted = prepared.evictionCandidate {
            try execute("DEALLOCATE " + quoteIdentifier(evicted), deadline: deadline)
            prepared.remove(evicted)
        }
        guard PQsendPrepare(handle, name, sql, Int32(parameterCount), nil) == 1 else { throw connectionError() }
        _ = try awaitResult(deadline: deadline)
        prepared.insert(name)
    }

    /// Runs the named prepared statement like `executePrepared(_:sql:_:deadline:)`, after setting
    /// `settings` on the session (`set_config(name, value, false)`: they outlast the statement),
    /// in the same round trip: both go out in libpq's pipeline mode, and the answers of both are
    /// read before it returns. Within `deadline` the statement is cancelled like any other.
    ///
    /// With `separately`, a Sync between them puts the settings in a transaction of their own,
    /// so a procedure that commits (a CALL) is not inside a transaction block; one system call
    /// more. Without, both share one implicit transaction (a function call).
    @discardableResult
    public func executePrepared(
        _ name: String, sql: String, _ parameters: [String?], deadline: ContinuousClock.Instant? = nil,
        settingFirst settings: KeyValuePairs<String, String>, separately: Bool
    ) throws(PGError) -> PGResult {
        let deadline = deadline ?? defaultDeadline
        let settingsStatement = PGConnection.settingsStatement(count: settings.count)
        try prepare(name, sql: sql, parameterCount: parameters.count, deadline: deadline)
        try prepare(
            settingsStatement.name, sql: settingsStatement.sql, parameterCount: settings.count * 2, deadline: deadline)
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError() }
        var settingValues: [String?] = []
        settingValues.reserveCapacity(settings.count * 2)
        for (setting, value) in settings { settingValues += [setting, value] }
        let sent =
            send(settingsStatement.name, sql: settingsStatement.sql, settingValues)
            && (!separately || PQpipelineSync(handle) == 1)
            && send(name, sql: sql, parameters)
            && PQpipelineSync(handle) == 1
        guard sent else {
            abandoned = true
            throw connectionError()
        }
        return try awaitPipeline(syncs: separately ? 2 : 1, deadline: deadline)
    }

    /// `SELECT set_config($1, $2, false), …` for `count` settings, and its name; built once for
    /// the usual counts, not per call.
    static func settingsStatement(count: Int) -> (name: String, sql: String) {
        count < settingsStatements.count ? settingsStatements[count] : makeSettingsStatement(count: count)
    }

    private static let settingsStatements = (0..<4).map(makeSettingsStatement(count:))

    private static func makeSettingsStatement(count: Int) -> (name: String, sql: String) {
        let calls = (0..<count).map { "pg_catalog.set_config($\($0 * 2 + 1), $\($0 * 2 + 2), false)" }
        return ("spo_set_config_\(count)", "SELECT " + calls.joined(separator: ", "))
    }

    /// Runs several statements (no parameters) in one round trip; returns nothing.
    public func executeScript(_ sql: String) throws(PGError) {
        guard PQsendQuery(handle, sql) == 1 else { throw connectionError() }
        _ = try awaitResult(deadline: defaultDeadline)
    }

    /// Reads what the server sent while the connection sat idle (the error it sends before closing
    /// when it shuts down, a parameter change) and tells whether the connection is still usable:
    /// a closed one is then noticed before a statement is sent on it. One `poll(2)`, and a `recv`
    /// when something arrived.
    public func checkAlive() -> Bool {
        // The server's last words and the end of the connection can take two reads.
        for _ in 0..<2 where isHealthy {
            switch waitReadable(timeoutMilliseconds: 0) {
            case .readable: _ = PQconsumeInput(handle)
            case .timedOut: return isHealthy
            case .failed: abandoned = true
            }
        }
        return isHealthy
    }

    private var defaultDeadline: ContinuousClock.Instant? { statementTimeout.map { .now + $0 } }

    /// Quotes an identifier with libpq's rules.
    public func quoteIdentifier(_ identifier: String) -> String {
        guard let quoted = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            return "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Pending notifications. With `readingSocket`, first reads whatever the server sent (one
    /// non-blocking `recv`); without, returns only those libpq already received while running
    /// statements (no system call).
    public func notifications(readingSocket: Bool = true) -> [PGNotification] {
        if readingSocket { _ = PQconsumeInput(handle) }
        var result: [PGNotification] = []
        while let notify = PQnotifies(handle) {
            result.append(
                PGNotification(
                    channel: String(cString: notify.pointee.relname), payload: String(cString: notify.pointee.extra)))
            PQfreemem(notify)
        }
        return result
    }

    // MARK: - Waiting for results

    /// Awaits a statement that has been sent, marking a failure that ends the connection as one
    /// after which the statement may have run (preparing runs nothing, so it does not come here).
    private func awaitSent(deadline: ContinuousClock.Instant?) throws(PGError) -> PGResult {
        do {
            return try awaitResult(deadline: deadline)
        } catch {
            var error = error
            error.mayHaveRun = error.kind == .connection || (error.kind == .server && PQstatus(handle) != CONNECTION_OK)
            throw error
        }
    }

    private func awaitResult(deadline: ContinuousClock.Instant?) throws(PGError) -> PGResult {
        var cancelled = false
        return try awaitResult(deadline: deadline, cancelled: &cancelled)
    }

    /// The next result, waiting for it until `deadline`, then cancelling the statement (once:
    /// `cancelled` says whether a cancel was sent, for every statement of a pipeline).
    private func nextResult(deadline: ContinuousClock.Instant?, cancelled: inout Bool) throws(PGError)
        -> OpaquePointer?
    {
        let waitingWork = PGWaitingWork.current
        while PQisBusy(handle) == 1 {
            // A cancelled statement ends within milliseconds; a server silent for a second more
            // is given up on (its statement_timeout ends the statement).
            let timeout = cancelled ? 1_000 : PGConnector.remainingMilliseconds(until: deadline)
            if timeout == 0 && !cancelled {
                cancelled = true
                cancel()
                continue
            }
            // The second a cancelled statement is given is counted from each wait: not interrupted.
            let bounded = cancelled ? timeout : waitingWork?.bound(timeout) ?? timeout
            switch waitReadable(timeoutMilliseconds: bounded) {
            case .timedOut where bounded != timeout:
                waitingWork?.run()
                continue
            case .readable where PQconsumeInput(handle) == 1, .timedOut where !cancelled:
                continue
            case .timedOut:
                // The server ignored the cancel: this connection can no longer be trusted.
                abandoned = true
                throw timeoutError()
            default:
                throw connectionError()
            }
        }
        return PQgetResult(handle)
    }

    private func awaitResult(deadline: ContinuousClock.Instant?, cancelled: inout Bool) throws(PGError) -> PGResult {
        var last: OpaquePointer?
        var failure: PGError?
        while true {
            let result: OpaquePointer?
            do {
                result = try nextResult(deadline: deadline, cancelled: &cancelled)
            } catch {
                if let last { PQclear(last) }
                throw error
            }
            guard let next = result else { break }
            switch PQresultStatus(next) {
            case PGRES_FATAL_ERROR:
                if failure == nil { failure = serverError(next) }
                PQclear(next)
            case PGRES_PIPELINE_ABORTED:
                if failure == nil {
                    failure = PGError(
                        kind: .server, sqlstate: "25P02",
                        message: "not run: an earlier statement of the pipeline failed")
                }
                PQclear(next)
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                if let last { PQclear(last) }
                last = next
            default:
                if failure == nil { failure = serverError(next) }
                PQclear(next)
            }
        }
        if let failure {
            if let last { PQclear(last) }
            if cancelled && failure.sqlstate == "57014" { throw timeoutError() }
            throw failure
        }
        guard let last else { throw connectionError() }
        return PGResult(taking: last)
    }

    /// Reads a pipeline's answers: the settings' (and, with two syncs, their Sync), the
    /// statement's, the last Sync; then leaves pipeline mode. Throws the statement's error, else
    /// the settings'. A connection that breaks or ignores a cancel midway is abandoned.
    private func awaitPipeline(syncs: Int, deadline: ContinuousClock.Instant?) throws(PGError) -> PGResult {
        var cancelled = false
        let settings: Result<PGResult, PGError>
        let statement: Result<PGResult, PGError>
        do {
            settings = try readPipelined(deadline: deadline, cancelled: &cancelled)
            if syncs == 2 { try awaitSync(deadline: deadline, cancelled: &cancelled) }
            statement = try readPipelined(deadline: deadline, cancelled: &cancelled)
            try awaitSync(deadline: deadline, cancelled: &cancelled)
        } catch {
            // Answers are still due: the connection cannot be used again.
            abandoned = true
            var error = error
            error.mayHaveRun = error.kind == .connection || (error.kind == .server && PQstatus(handle) != CONNECTION_OK)
            throw error
        }
        guard PQexitPipelineMode(handle) == 1 else {
            abandoned = true
            throw connectionError()
        }
        if case .failure(let error) = statement, error.sqlstate != "25P02" { throw error }
        if case .failure(let error) = settings { throw error }
        return try statement.get()
    }

    /// One pipelined statement's outcome: a server's error is a value (the pipeline goes on to
    /// its Sync); a broken connection or an ignored cancel throws.
    private func readPipelined(deadline: ContinuousClock.Instant?, cancelled: inout Bool) throws(PGError)
        -> Result<PGResult, PGError>
    {
        do {
            return .success(try awaitResult(deadline: deadline, cancelled: &cancelled))
        } catch {
            if abandoned || error.kind == .connection || PQstatus(handle) != CONNECTION_OK { throw error }
            return .failure(error)
        }
    }

    private func awaitSync(deadline: ContinuousClock.Instant?, cancelled: inout Bool) throws(PGError) {
        guard let result = try nextResult(deadline: deadline, cancelled: &cancelled) else { throw connectionError() }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_PIPELINE_SYNC else { throw connectionError() }
    }

    /// Asks the server to cancel the statement in progress (a separate connection, per libpq).
    func cancel() {
        guard let token = PQgetCancel(handle) else { return }
        defer { PQfreeCancel(token) }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(token, &buffer, Int32(buffer.count))
    }

    private enum Readiness { case readable, timedOut, failed }

    private func waitReadable(timeoutMilliseconds: Int32) -> Readiness {
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&descriptor, 1, timeoutMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { return .timedOut }
            return ready > 0 && descriptor.revents & Int16(POLLNVAL) == 0 ? .readable : .failed
        }
    }

    // MARK: - Errors

    private var lastErrorMessage: String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func connectionError() -> PGError {
        PGError(
            kind: .connection, sqlstate: "08006",
            message: lastErrorMessage.isEmpty ? "connection lost" : lastErrorMessage)
    }

    func timeoutError() -> PGError {
        PGError(kind: .timeout, sqlstate: "57014", message: "statement cancelled: deadline exceeded")
    }

    func serverError(_ result: OpaquePointer) -> PGError {
        func field(_ code: UInt8) -> String? {
            guard let text = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: text)
        }
        let sqlstate = field(UInt8(ascii: "C")) ?? "08006"
        let message = field(UInt8(ascii: "M")) ?? lastErrorMessage
        // Without a SQLSTATE the error came from libpq itself: the connection broke.
        let kind: PGError.Kind = sqlstate.hasPrefix("08") || field(UInt8(ascii: "C")) == nil ? .connection : .server
        return PGError(
            kind: kind, sqlstate: sqlstate, message: message, detail: field(UInt8(ascii: "D")),
            hint: field(UInt8(ascii: "H")))
    }
}

/// A `NOTIFY` received on a channel this connection listens to.
public struct PGNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
}

/// Lays parameters out as C strings in one buffer and calls `body` with libpq's arguments.
func withCParameters<R>(
    _ parameters: [String?], _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R
) -> R {
    if parameters.isEmpty { return body(0, nil) }
    let bytes = parameters.reduce(0) { $0 + ($1?.utf8.count ?? 0) + 1 }
    // Scratch space for the call only: on the stack when it is small (a service's few values), so
    // a call allocates nothing here.
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes) { storage in
        withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: parameters.count) { pointers in
            var offset = 0
            for (index, parameter) in parameters.enumerated() {
                guard var parameter else {
                    pointers[index] = nil
                    continue
                }
                let start = storage.baseAddress! + offset
                let count = parameter.withUTF8 { utf8 in
                    utf8.withMemoryRebound(to: CChar.self) { chars in
                        if let base = chars.baseAddress { start.update(from: base, count: chars.count) }
                        return chars.count
                    }
                }
                start[count] = 0
                pointers[index] = UnsafePointer(start)
                offset += count + 1
            }
            return body(Int32(parameters.count), UnsafePointer(pointers.baseAddress))
        }
    }
}
