import SPOCore

extension AuditLog {
    /// What became of a record offered to the pool's audit writer.
    enum HandOver {
        /// Committed by the writer: nothing left to do.
        case committed
        /// Offered, not confirmed: the writer may still commit it, so the worker writes it
        /// tolerating a row that exists.
        case unconfirmed
        /// Not for the writer (an error row, a keyed or spooled one) or no writer: written as before.
        case notOffered
    }

    /// Offers a request-path execution row to the writer, waiting up to `timeout` for its commit.
    func handOver(_ record: AuditRecord, to writer: AuditWriterClient, timeout: Duration) -> HandOver {
        guard let ticket = offer(record, to: writer) else { return .notOffered }
        return HandOver(writer.settlement(of: ticket, deadline: .now + timeout, hurry: true))
    }

    /// Sends a request-path execution row (without an error or an idempotency key: those keep
    /// their own statements) to the writer without waiting; nil when it is not the writer's.
    func offer(_ record: AuditRecord, to writer: AuditWriterClient) -> AuditWriterClient.Ticket? {
        guard writer.isAvailable, record.execution != nil, record.failure == nil, record.idempotency == nil else {
            return nil
        }
        var frame = AuditWriterFrame.Builder()
        guard statement(for: record, into: &frame) == .execution else { return nil }
        return writer.send(frame.finished())
    }
}

extension AuditLog.HandOver {
    /// What the worker does about a row the writer answered `settlement`.
    init(_ settlement: AuditWriterClient.Settlement) {
        // A failed batch may have committed before its connection broke: written tolerantly too.
        self = settlement == .committed ? .committed : .unconfirmed
    }
}
