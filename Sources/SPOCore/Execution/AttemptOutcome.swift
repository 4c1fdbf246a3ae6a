import SPOPostgres

/// How one attempt of an execution ended: `outcome` of a `service_log` row.
public enum AttemptOutcome: String, Sendable, CaseIterable {
    case succeeded
    /// The procedure raised.
    case failed
    case timeout
    /// The database could not be reached, or the connection broke.
    case connectionFailed = "connection_failed"

    /// The outcome of an attempt that failed with `error`.
    public init(_ error: PGError) {
        switch error.kind {
        case .timeout: self = .timeout
        case .connection: self = .connectionFailed
        case .server, .resultTooLarge: self = .failed
        }
    }
}
