import SPOCore
import SPOPostgres

extension Executor {
    /// One attempt of the call inside `BEGIN … COMMIT` on the target, the transaction's id handed
    /// to `transaction.beforeCommit` with the data before COMMIT is sent (see `TargetTransaction`).
    func runInTransaction(
        _ transaction: TargetTransaction, _ plan: CallPlan, _ values: [String?], service: ServiceDefinition,
        on connection: PGConnection, deadline: ContinuousClock.Instant
    ) throws(PGError) -> String {
        let data: String
        let xid: String
        do throws(PGError) {
            try connection.execute("BEGIN", deadline: deadline)
            data = try run(plan, values, service: service, on: connection, deadline: deadline)
            xid =
                try connection.execute("SELECT pg_catalog.pg_current_xact_id()::pg_catalog.text", deadline: deadline)
                .value(0, 0) ?? ""
        } catch {
            rollBack(connection)
            guard error.kind == .server, error.sqlstate == TargetTransaction.cannotRunInTransactionBlock else {
                // Lost before COMMIT was sent, the transaction cannot have committed: unlike a
                // call in autocommit, this one is safe to run again whatever its volatility.
                var error = error
                error.mayHaveRun = false
                throw error
            }
            // The procedure ends transactions itself: nothing of it survived the rollback, and it
            // runs again the only way it can, outside a transaction block.
            guard transaction.beforeRunningOutside() else {
                transaction.leaseLost = true
                throw TargetTransaction.leaseLostError
            }
            return try run(plan, values, service: service, on: connection, deadline: deadline)
        }
        guard transaction.beforeCommit(xid, data) else {
            rollBack(connection)
            transaction.leaseLost = true
            throw TargetTransaction.leaseLostError
        }
        transaction.unresolvedXID = xid
        // COMMIT is not cancelled at the call's deadline (the work is done and recorded); it still
        // has a bound of its own.
        try connection.execute("COMMIT", deadline: max(deadline, .now + .seconds(5)))
        transaction.unresolvedXID = nil
        return data
    }

    private func rollBack(_ connection: PGConnection) {
        // A connection that cannot roll back is not idle, hence not healthy: the next call reconnects.
        _ = try? connection.execute("ROLLBACK", deadline: .now + .seconds(1))
    }
}
