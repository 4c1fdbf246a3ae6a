/// How a `PGConnection` connects and how long it may wait: the deadlines a caller puts on
/// connecting and on statements, the server-side backstop, TCP keepalives and the cap on
/// prepared statements.
public struct PGConnectOptions: Sendable {
    /// When connecting must be done (TCP, TLS, authentication); nil waits as long as the server
    /// takes, or the conninfo's `connect_timeout`.
    public var deadline: ContinuousClock.Instant?
    /// The deadline of every statement run without one of its own, counted from its start.
    public var statementTimeout: Duration?
    /// `statement_timeout` on the server, set at connect time through the startup `options` (unless
    /// the conninfo's `options` set it, or are empty: `options=''` for a pooler that refuses them):
    /// ends a statement whose client can no longer cancel it (a worker that died or gave up).
    public var serverStatementTimeout: Duration?
    /// Prepared statements kept on the connection; past it, the least recently used is deallocated.
    public var preparedStatementLimit: Int
    /// The password, when it comes from elsewhere than the conninfo (a connection's `password_from`).
    public var password: String?
    /// Whether `executePrepared` prepares named statements (parsed once per connection). False for
    /// a connection through a transaction pooler (PgBouncer 1.18 in `pool_mode = transaction`),
    /// where a statement prepared on one server connection is missing on the next: each call then
    /// sends an unnamed statement, parsed with its values in the same round trip.
    public var namedStatements = true
    /// Where the connection's notices go; nil keeps libpq's default (plain text on standard error).
    public var noticeHandler: PGNoticeHandler? = PGConnectOptions.defaultNoticeHandler

    /// The notice handler of connections whose options do not choose one: set once at start (the
    /// server routes notices into its JSON logs), before connections are made.
    nonisolated(unsafe) public static var defaultNoticeHandler: PGNoticeHandler?

    /// Added to every conninfo that does not set them (libpq applies them to TCP only): a peer
    /// that vanishes without closing is noticed after about 30 s instead of the system's two hours,
    /// and unacknowledged data gives up after 20 s.
    public static let keepalives: [(keyword: String, value: String)] = [
        ("keepalives", "1"), ("keepalives_idle", "15"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
        ("tcp_user_timeout", "20000"),
    ]

    /// Prepared statements per connection by default.
    public static let defaultPreparedStatementLimit = 100

    public init(
        deadline: ContinuousClock.Instant? = nil, statementTimeout: Duration? = nil,
        serverStatementTimeout: Duration? = nil, preparedStatementLimit: Int = Self.defaultPreparedStatementLimit
    ) {
        self.deadline = deadline
        self.statementTimeout = statementTimeout
        self.serverStatementTimeout = serverStatementTimeout
        self.preparedStatementLimit = max(1, preparedStatementLimit)
    }

    /// Options for a connection whose every wait, connecting included, is bounded by `timeout`;
    /// the server ends statements a second after it.
    public static func bounded(by timeout: Duration) -> PGConnectOptions {
        PGConnectOptions(
            deadline: .now + timeout, statementTimeout: timeout, serverStatementTimeout: timeout + .seconds(1))
    }
}
