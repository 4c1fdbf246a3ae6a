import Foundation
import SPOCore
import SPOPostgres

/// The worker's open connections to target databases, one per configured connection, opened on
/// first use and replaced when they break (for example after PostgreSQL restarted).
public final class TargetConnections {
    /// Each open connection with the conninfo, secret reference and server timeout it was opened with.
    private var open: [String: Entry] = [:]
    private typealias Entry = (conninfo: String, secret: String?, serverTimeout: Duration?, connection: PGConnection)
    /// Bounds connecting and each statement when the caller gives no deadline (the admin side).
    private let timeout: Duration?
    /// Whether a kept connection is checked (one `poll(2)`) before it is handed out again.
    private let checksBeforeUse: Bool

    /// With a `timeout`, every wait on these connections is bounded by it unless the caller gives
    /// a deadline; with `checksBeforeUse`, a connection the server closed meanwhile is replaced
    /// before use instead of failing the statement (for paths where a system call does not count).
    public init(timeout: Duration? = nil, checksBeforeUse: Bool = false) {
        self.timeout = timeout
        self.checksBeforeUse = checksBeforeUse
    }

    /// A healthy connection for `definition`, connecting if needed: by `deadline` (else within
    /// the timeout), with `serverTimeout` as the server's `statement_timeout` (else the timeout
    /// and a second), evaluated only when connecting.
    public func connection(
        for definition: ConnectionDefinition, deadline: ContinuousClock.Instant? = nil,
        serverTimeout: @autoclosure () -> Duration? = nil
    ) throws(PGError) -> PGConnection {
        let conninfo = definition.conninfo
        // The secret is read only to connect (a changed reference reconnects; a rotated secret is
        // used from the next connection on), so a call on an open connection reads no file.
        if let existing = open[definition.name], existing.conninfo == conninfo,
            existing.secret == definition.passwordFrom,
            checksBeforeUse ? existing.connection.checkAlive() : existing.connection.isHealthy
        {
            return existing.connection
        }
        open[definition.name] = nil
        let secret = try TargetConnections.secret(of: definition)
        var options = timeout.map(PGConnectOptions.bounded(by:)) ?? PGConnectOptions()
        if let deadline { options.deadline = deadline }
        let serverTimeout = serverTimeout()
        if let serverTimeout { options.serverStatementTimeout = serverTimeout }
        options.password = secret
        let connection = try PGConnection(conninfo: conninfo, options: options)
        open[definition.name] = (conninfo, definition.passwordFrom, serverTimeout, connection)
        return connection
    }

    /// Calls `body` with the socket of each open connection, for a worker to watch between requests.
    public func forEachSocket(_ body: (Int32) -> Void) {
        for entry in open.values where entry.connection.socket >= 0 { body(entry.connection.socket) }
    }

    /// Reads what arrived on the open connections and forgets those the server closed, so the
    /// next call reconnects instead of sending on a dead connection.
    public func dropClosed() {
        for (name, entry) in open where !entry.connection.checkAlive() { open[name] = nil }
    }

    /// Forgets the connection (after it failed), so the next call reconnects.
    public func discard(_ name: String) { open[name] = nil }

    /// Closes every connection (after configuration changed, connections are reopened lazily).
    public func closeAll() { open.removeAll() }

    /// After configuration changed: closes the connections whose own settings did — removed from
    /// the configuration, another conninfo or secret reference, or another server timeout
    /// (`serverTimeout(name)`, when they were opened with one) — and keeps the others open, so a
    /// change to one service does not make every worker reconnect to every target.
    public func closeChanged(in configuration: Configuration, serverTimeout: (String) -> Duration) {
        for (name, entry) in open {
            guard let definition = configuration.connections[name], definition.conninfo == entry.conninfo,
                definition.passwordFrom == entry.secret,
                entry.serverTimeout.map({ $0 == serverTimeout(name) }) ?? true
            else {
                open[name] = nil
                continue
            }
        }
    }

    /// The server process of the open connection to `name`, if any (for tests and logs).
    public func backendPID(of name: String) -> Int32? { open[name]?.connection.backendPID }

    /// The secret `password_from` points at (nil when the connection names none, or `pgpass`),
    /// handed to libpq as a setting of its own (`SecretStore`).
    static func secret(of definition: ConnectionDefinition) throws(PGError) -> String? {
        guard let source = definition.passwordFrom else { return nil }
        switch SecretStore.secret(source) {
        case .success(let secret): return secret
        case .failure(let problem):
            throw PGError(
                kind: .connection, sqlstate: "08001",
                message: "connection \(definition.name): the secret is not available: \(problem)")
        }
    }
}
