import SPOPostgres

/// The worker's connection to the control database, reopened when it breaks.
public final class ControlDatabase {
    public let conninfo: String
    private var handle: PGConnection?
    /// Called after a new connection was opened (to LISTEN again and reload what may have changed).
    public var onReconnect: ((PGConnection) throws(PGError) -> Void)?

    public init(conninfo: String) {
        self.conninfo = conninfo
    }

    /// The current connection, opening one when there is none or it broke.
    public func open() throws(PGError) -> PGConnection {
        if let handle, handle.isHealthy { return handle }
        handle = nil
        let fresh = try PGConnection(conninfo: conninfo)
        handle = fresh
        try onReconnect?(fresh)
        return fresh
    }

    /// Runs `body` on the connection; when it fails because the connection broke, reconnects
    /// once and runs it again.
    public func withConnection<T>(_ body: (PGConnection) throws(PGError) -> T) throws(PGError) -> T {
        let first = try open()
        do throws(PGError) {
            return try body(first)
        } catch  where error.kind == .connection {
            handle = nil
            return try body(try open())
        }
    }

    /// The open connection, if any, without reconnecting (for polling its socket).
    public var current: PGConnection? { handle }
}
