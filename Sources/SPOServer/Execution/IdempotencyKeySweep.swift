import SPOPostgres

/// Deletes expired `Idempotency-Key`s (past `expires_at`, and answered or with their lock passed:
/// a claim still running never expires under its run), so the table holds about a TTL's worth of keys, never
/// more: each worker, between requests, at most once a minute, one bounded batch (`FOR UPDATE
/// SKIP LOCKED`, so workers sweeping at once share the work instead of waiting on each other);
/// again within a second while batches come back full. No request pays for it.
public struct IdempotencyKeySweep {
    /// Rows deleted by one statement at most.
    public static let batchSize = 1000
    /// Pause between sweeps when the last batch was not full.
    public static let interval: Duration = .seconds(60)
    private var next: ContinuousClock.Instant

    public init() {
        // Spread over the first minute, so a pool started at once does not sweep at once.
        next = .now + .milliseconds(Int.random(in: 1000...60_000))
    }

    /// Sweeps one batch when due; the number of keys deleted (nil when not due or it failed,
    /// which the next sweep makes up for).
    @discardableResult
    public mutating func runIfDue(on connection: PGConnection, now: ContinuousClock.Instant = .now) -> Int? {
        guard now >= next else { return nil }
        next = now + Self.interval
        guard let deleted = try? connection.execute(Self.sql, [String(Self.batchSize)]).affectedRows else { return nil }
        if deleted == Self.batchSize { next = now + .seconds(1) }
        return deleted
    }

    static let sql = """
        DELETE FROM spo.idempotency_key WHERE (scope, key) IN (
            SELECT scope, key FROM spo.idempotency_key
            WHERE expires_at <= now() AND (state = 'completed' OR locked_until <= now())
            ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED)
        """
}
