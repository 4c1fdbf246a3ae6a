/// A failure reported by libpq or by the server, safe to log: it never holds parameter values
/// or connection secrets.
public struct PGError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is, for callers that decide between retry, timeout and failure.
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke (SQLSTATE class 08 is synthesised when the
        /// server sent none).
        case connection
        /// The server answered the statement with an error.
        case server
        /// The caller's deadline passed; the statement was cancelled on the server.
        case timeout
        /// The statement ran, but its result is larger than the caller accepts; the connection
        /// stays usable.
        case resultTooLarge
    }

    public var kind: Kind
    /// Five-character SQLSTATE, e.g. `P0001`, `40001`, `08006`.
    public var sqlstate: String
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The connection was lost after the statement had been sent: it may have run, and even
    /// committed, without its answer arriving. False when it failed before it was sent, or the
    /// server answered it with an error on a connection that stays open (it did not run).
    public var mayHaveRun = false

    public init(kind: Kind, sqlstate: String, message: String, detail: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    public var description: String { "\(sqlstate): \(message)" }

    /// The SQLSTATE class: its first two characters.
    public var sqlstateClass: String { String(sqlstate.prefix(2)) }
}
