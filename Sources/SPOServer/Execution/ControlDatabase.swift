import Foundation
import SPOCore
import SPOPostgres

/// The worker's connection to the control database, reopened when it breaks.
///
/// Every wait on it is bounded by `timeout` (`SPO_CONTROL_TIMEOUT_MS`): connecting, and each
/// statement (audit, configuration, key look-up, administration), so an unreachable control
/// database makes those calls fail after the timeout instead of hanging the worker.
public final class ControlDatabase {
    public let conninfo: String
    /// The bound on connecting and on each statement.
    public let timeout: Duration
    private var handle: PGConnection?
    /// After connecting timed out (a host that does not answer, rather than one that refuses),
    /// calls fail at once for a while: an unreachable control database then costs one timeout
    /// every few seconds, not one per statement.
    private var unreachable: (error: PGError, until: ContinuousClock.Instant)?
    static let pauseAfterTimeout: Duration = .seconds(5)
    /// Called after a new connection was opened (to LISTEN again and reload what may have changed).
    public var onReconnect: ((PGConnection) throws(PGError) -> Void)?

    public init(conninfo: String, timeout: Duration = ControlDatabase.configuredTimeout) {
        self.conninfo = conninfo
        self.timeout = timeout
    }

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

    /// The current connection, opening one when there is none or it broke.
    public func open() throws(PGError) -> PGConnection {
        if let handle, handle.isHealthy { return handle }
        handle = nil
        if let (error, until) = unreachable, ContinuousClock.now < until { throw error }
        let fresh: PGConnection
        do throws(PGError) {
            fresh = try Self.connect(conninfo, timeout: timeout)
        } catch {
            if error.kind == .timeout { unreachable = (error, .now + Self.pauseAfterTimeout) }
            throw error
        }
        unreachable = nil
        handle = fresh
        try onReconnect?(fresh)
        return fresh
    }

    /// Runs `body` on the connection; when it fails because the connection broke (a lost
    /// connection, or the server closing it as it shut down), reconnects once and runs it again.
    public func withConnection<T>(_ body: (PGConnection) throws(PGError) -> T) throws(PGError) -> T {
        let first = try open()
        do throws(PGError) {
            return try body(first)
        } catch  where error.kind == .connection || (error.sqlstate.hasPrefix("57P") && !first.isHealthy) {
            handle = nil
            return try body(try open())
        }
    }

    /// The open connection, if any, without reconnecting (for polling its socket).
    public var current: PGConnection? { handle }
}
