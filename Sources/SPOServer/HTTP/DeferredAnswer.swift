import SPOCore

/// An execution's answer waiting for its audit row's commit: the pool's writer is committing the
/// row, and the worker serves its next request meanwhile, writing this answer once
/// `RequestHandler.settle(_:)` has the commit confirmed (or has written the row itself).
///
/// A worker holds at most one: it settles the older before it holds the next, so a row's group
/// commit overlaps one request's work and the worker never idles for it.
final class DeferredAnswer {
    // A class: held and handed on from the handler to the worker and back without copying its fields.

    /// What the client is answered once the row is confirmed.
    let response: HTTPResponse
    /// The row, written by the worker itself if the writer does not confirm it.
    let record: AuditRecord
    let ticket: AuditWriterClient.Ticket
    let context: RequestContext
    /// When the writer is given up on (the control timeout from the hand-over).
    let deadline: ContinuousClock.Instant
    /// The journal slot noting the execution until its row is confirmed, so a worker that dies
    /// before is audited `interrupted` by its supervisor.
    var journal: InFlightJournal?
    /// The cross-origin policy and `Origin` the answer is given under, if any: applied to
    /// whichever answer it turns out to be.
    var crossOrigin: (policy: CORSPolicy, origin: String?)?

    /// `response` as the client is to get it.
    func given(_ response: HTTPResponse) -> HTTPResponse {
        guard let crossOrigin else { return response }
        return crossOrigin.policy.decorate(response, origin: crossOrigin.origin)
    }

    init(
        response: HTTPResponse, record: AuditRecord, ticket: AuditWriterClient.Ticket, context: RequestContext,
        deadline: ContinuousClock.Instant
    ) {
        self.response = response
        self.record = record
        self.ticket = ticket
        self.context = context
        self.deadline = deadline
    }
}
