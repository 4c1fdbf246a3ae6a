import SPOPostgres

/// The sweep that keeps every saga moving: it takes over the in-flight sagas whose runner's lease
/// expired (the process died, or hangs; a dead process's supervisor ends its leases at once) and
/// resumes each from its log, so a started saga always ends completed, compensated, failed or
/// compensation-failed. Queue consumers run it between jobs.
enum SagaRecovery {
    /// Resumes up to `limit` orphaned sagas with `runner`; returns how many it took.
    @discardableResult
    static func sweep(_ runner: SagaRunner, limit: Int = 20) -> Int {
        var count = 0
        while count < limit,
            let id = try? runner.control.withConnection({ (connection: PGConnection) throws(PGError) in
                try SagaLog.takeOrphan(by: runner.holder, leaseMilliseconds: SagaLog.leaseMargin, on: connection)
            })
        {
            count += 1
            Log.warning("recovering a saga whose runner was lost", ["saga_id": .string(id)])
            let outcome = runner.resume(id)
            Log.info(
                "saga recovered",
                ["saga_id": .string(id), "state": outcome.map { .string($0.state.rawValue) } ?? .null])
        }
        return count
    }

    /// Ends the saga leases of the dead process `pid` (see `SagaLog.expireLeases`).
    static func expireLeases(ofProcess pid: Int32, controlConninfo: String) {
        let holder = Consumer.holderName(pid: pid)
        do throws(PGError) {
            let connection = try ControlDatabase.connect(controlConninfo)
            let count = try SagaLog.expireLeases(of: holder, on: connection)
            if count > 0 {
                Log.info("ended a dead process's saga leases", ["holder": .string(holder), "sagas": .number(count)])
            }
        } catch {
            Log.warning("could not end a dead process's saga leases", ["error": .string(error.description)])
        }
    }
}
