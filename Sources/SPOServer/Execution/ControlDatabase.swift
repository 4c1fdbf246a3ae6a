import Foundation
import SPOCore
import SPOPostgres

/// The worker's connection to the control database, reopened when it breaks.
///
/// Every wait on it is bounded by `timeout` (`SPO_CONTROL_TIMEOUT_MS`): connecting, and each
/// statement (audit, configuration, key look-up, administration), so an unreachable control
/// database makes those calls fail after the timeout instead of hanging the worker.
///
/// Behind a transaction pooler (`SPO_CONTROL_POOLER`, e.g. PgBouncer in `pool_mode =
/// transaction`), statements go through the pooler as unnamed statements, and nothing relies on
/// the session: a transaction pooler hands each transaction to whichever server connection is
/// free. What needs a session of its own (`LISTEN`) gets a direct connection to `conninfo`, the
/// listener, opened when `onReconnect` is set.
public final class ControlDatabase {
    /// The control database itself (migrations, and the listener behind a pooler).
    public let conninfo: String
    /// The transaction pooler statements go through, if any.
    public let poolerConninfo: String?
    /// The bound on connecting and on each statement.
    public let timeout: Duration
    private var handle: PGConnection?
    /// After connecting timed out (a host that does not answer, rather than one that refuses),
    /// calls fail at once for a while: an unreachable control database then costs one timeout
    /// every few seconds, not one per statement.
    private var unreachable: (error: PGError, until: ContinuousClock.Instant)?
    static let pauseAfterTimeout: Duration = .seconds(5)
    /// The direct connection that LISTENs, behind a pooler (without one, `handle` listens).
    private var listenHandle: PGConnection?
    /// Called after a new session was opened (to LISTEN again and reload what may have changed):
    /// the connection itself, or behind a pooler the listener (never a pooled connection, whose
    /// session settings would reach other clients' transactions).
    public var onReconnect: ((PGConnection) throws(PGError) -> Void)?

    public init(
        conninfo: String, pooler: String? = ControlDatabase.configuredPooler,
        timeout: Duration = ControlDatabase.configuredTimeout
    ) {
        self.conninfo = conninfo
        self.poolerConninfo = pooler
        self.timeout = timeout
    }

    /// `SPO_CONTROL_POOLER` from the environment: the conninfo of a transaction pooler in front of
    /// the control database, or nil (statements go to `conninfo`).
    public static let configuredPooler: String? = ProcessInfo.processInfo.environment[poolerVariable].flatMap {
        $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0
    }

    /// The variable naming the pooler, which `spo serve` passes on to its workers and consumers.
    public static let poolerVariable = "SPO_CONTROL_POOLER"

    /// Whether statements go through a transaction pooler (no session state may be relied on).
    public var isPooled: Bool { poolerConninfo != nil }

    /// `SPO_CONTROL_TIMEOUT_MS` from the environment, 3000 ms by default.
    public static let configuredTimeout: Duration = .milliseconds(
        ProcessInfo.processInfo.environment["SPO_CONTROL_TIMEOUT_MS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
            ?? 3000)

    /// A new connection to `conninfo` whose every wait is bounded by the configured timeout (for
    /// processes other than workers: the supervisor's recovery).
    public static func connect(_ conninfo: String, timeout: Duration = configuredTimeout) throws(PGError)
        -> PGConnection
    {
        try PGConnection(conninfo: conninfo, options: .bounded(by: timeout))
    }

    /// The current connection, opening one when there is none or it broke (and, behind a pooler,
    /// the listener likewise).
    public func open() throws(PGError) -> PGConnection {
        if isPooled, onReconnect != nil, listenHandle?.isHealthy != true {
            listenHandle = nil
            let listener = try connect(conninfo, options: .bounded(by: timeout))
            listenHandle = listener
            try onReconnect?(listener)
        }
        if let handle, handle.isHealthy { return handle }
        handle = nil
        guard let poolerConninfo else {
            let fresh = try connect(conninfo, options: .bounded(by: timeout))
            handle = fresh
            try onReconnect?(fresh)
            return fresh
        }
        let fresh = try connect(poolerConninfo, options: Self.pooledOptions(timeout))
        handle = fresh
        return fresh
    }

    /// Connects, pausing further attempts for a while after a timeout (see `unreachable`).
    private func connect(_ conninfo: String, options: PGConnectOptions) throws(PGError) -> PGConnection {
        if let (error, until) = unreachable, ContinuousClock.now < until { throw error }
        do throws(PGError) {
            let fresh = try PGConnection(conninfo: conninfo, options: options)
            unreachable = nil
            return fresh
        } catch {
            if error.kind == .timeout { unreachable = (error, .now + Self.pauseAfterTimeout) }
            throw error
        }
    }

    /// A pooled connection's options: unnamed statements, and no startup `options` (PgBouncer
    /// refuses them; its `query_timeout` is the server-side backstop there).
    static func pooledOptions(_ timeout: Duration) -> PGConnectOptions {
        var options = PGConnectOptions(deadline: .now + timeout, statementTimeout: timeout)
        options.namedStatements = false
        return options
    }

    /// Runs `body` on the connection; when it fails because the connection broke (a lost
    /// connection, or the server closing it as it shut down), reconnects once and runs it again.
    @discardableResult
    public func withConnection<T>(_ body: (PGConnection) throws(PGError) -> T) throws(PGError) -> T {
        let first = try open()
        do throws(PGError) {
            return try body(first)
        } catch  where error.kind == .connection || (error.sqlstate.hasPrefix("57P") && !first.isHealthy) {
            handle = nil
            return try body(try open())
        }
    }

    /// The open connection, if any, without reconnecting.
    public var current: PGConnection? { handle }

    /// The open connection that receives notifications, if any, without reconnecting (for polling
    /// its socket): the listener behind a pooler, else the connection.
    public var listener: PGConnection? { isPooled ? listenHandle : handle }
}
