import SPOCore
import SPOPostgres

/// What a target database says of a transaction whose id was recorded before its COMMIT
/// (`pg_xact_status`): how the queue's and the sagas' recovery settle a run whose process was lost.
enum TargetTransactionStatus {
    case committed, aborted, pending, unknown

    /// Asks the database of `connectionName`; `pending` when it cannot be reached now (ask again
    /// later), `unknown` when it no longer knows the transaction or the connection is gone.
    static func of(
        _ xid: String, connectionName: String, configuration: Configuration?, connections: TargetConnections,
        timeout: Duration
    ) -> TargetTransactionStatus {
        guard let definition = configuration?.connections[connectionName] else { return .unknown }
        do throws(PGError) {
            let connection = try connections.connection(for: definition, deadline: .now + timeout)
            let result = try connection.execute(
                "SELECT pg_catalog.pg_xact_status($1::pg_catalog.xid8)", [xid], deadline: .now + timeout)
            switch result.value(0, 0) {
            case "committed"?: return .committed
            case "aborted"?: return .aborted
            case "in progress"?: return .pending
            default: return .unknown  // too old for the commit log
            }
        } catch {
            connections.discard(connectionName)
            return .pending
        }
    }
}
