import SPOCore
import SPOJSON
import SPOPostgres

extension Consumer {
    /// A queued call of a parallel service: its members run at once, each in its own implicit
    /// transaction (no target transaction spans databases), then the job settles with the
    /// members' data and the members' rows are written. Recovery after a crash finds no target
    /// transaction to ask and notes the job interrupted, like a procedure that commits.
    func runParallel(
        _ job: JobQueue.Job, _ service: ServiceDefinition, _ bound: [BoundParameter], _ configuration: Configuration
    ) {
        let marked = try? control.withConnection { (connection: PGConnection) throws(PGError) in
            try JobQueue.markOutsideTransaction(job.lease, on: connection)
        }
        guard marked == true else {
            return Log.warning("job taken over before it ran", ["execution_id": .string(job.lease.executionID)])
        }
        let outcome = ParallelRunner(executor: executor, configuration: configuration).run(service, bound)
        let error = outcome.error
        settle(
            job.lease, status: ExecutionStatus(answering: error), error: error,
            attempts: [RequestHandler.parentAttempt(outcome, error)], duration: outcome.durationMilliseconds,
            data: error == nil ? outcome.data.serialized() : nil, job: job, service: service)
        MemberAudit.write(
            outcome, parent: job.lease.executionID, user: job.user, correlationID: job.correlationID ?? "",
            control: control)
    }
}
