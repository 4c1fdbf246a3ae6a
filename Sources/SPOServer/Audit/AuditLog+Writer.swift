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

    /// Offers a request-path execution row (without an error or an idempotency key: those keep
    /// their own statements) to the writer, waiting up to `timeout` for its commit.
    func handOver(_ record: AuditRecord, to writer: AuditWriterClient, timeout: Duration) -> HandOver {
        guard writer.isAvailable, record.execution != nil, record.failure == nil, record.idempotency == nil else {
            return .notOffered
        }
        var frame = AuditWriterFrame.Builder()
        guard statement(for: record, into: &frame) == .execution else { return .notOffered }
        return writer.write(frame.finished(), deadline: .now + timeout) ? .committed : .unconfirmed
    }
}
