/// A message the server sent on a connection without failing a statement: `RAISE NOTICE` in a
/// procedure, a warning, a `CREATE … IF NOT EXISTS` that skipped.
public struct PGNotice: Sendable, Equatable {
    /// The severity, in PostgreSQL's words (never localized).
    public enum Severity: String, Sendable, Equatable {
        case debug = "DEBUG"
        case log = "LOG"
        case info = "INFO"
        case notice = "NOTICE"
        case warning = "WARNING"
    }

    public var severity: Severity
    public var sqlstate: String?
    public var message: String
    public var detail: String?
    public var hint: String?

    public init(severity: Severity, sqlstate: String?, message: String, detail: String? = nil, hint: String? = nil) {
        self.severity = severity
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
    }
}

/// Receives a connection's notices, on the thread running the statement that produced them.
public typealias PGNoticeHandler = @Sendable (PGNotice) -> Void
