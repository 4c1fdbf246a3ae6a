import SPOPostgres

/// How a queued job's call runs on its target: inside an explicit transaction whose id is
/// recorded in the control database before COMMIT is sent, so that whoever recovers the job after
/// its consumer was lost can ask the target whether the call committed (`pg_xact_status`) instead
/// of guessing. The executor calls back at the two points that decide:
///
/// - `beforeCommit(xid, data)` after the call succeeded, before COMMIT: false means the job is no
///   longer this consumer's (its lease was taken over) and the transaction is rolled back;
/// - `beforeRunningOutside()` when the routine cannot run in a transaction block (a procedure that
///   commits itself, SQLSTATE 2D000): the transaction is rolled back (nothing ran) and, if it
///   answers true, the call runs again outside one, where recovery falls back to the service's
///   safe-to-repeat rule.
public final class TargetTransaction {
    let beforeCommit: (_ xid: String, _ data: String) -> Bool
    let beforeRunningOutside: () -> Bool
    /// The transaction id recorded by the last `beforeCommit` whose COMMIT did not come back: the
    /// connection was lost while committing, so only the target knows whether it committed.
    public internal(set) var unresolvedXID: String?
    /// Set when `beforeCommit` or `beforeRunningOutside` refused: the job is another's now.
    public internal(set) var leaseLost = false

    public init(beforeCommit: @escaping (String, String) -> Bool, beforeRunningOutside: @escaping () -> Bool) {
        self.beforeCommit = beforeCommit
        self.beforeRunningOutside = beforeRunningOutside
    }

    /// The error that ends an attempt whose lease was lost: not retryable under any policy
    /// (class `SP` is no SQLSTATE class PostgreSQL uses), and never the client's answer, since the
    /// job's new holder settles it.
    static let leaseLostError = PGError(
        kind: .server, sqlstate: "SPQ01", message: "the job's lease was taken over; rolled back")

    /// SQLSTATE `invalid_transaction_termination`: a procedure's COMMIT inside a transaction block.
    static let cannotRunInTransactionBlock = "2D000"
}
