import SPOCore
import SPOPostgres

/// The shared breaker state in the control database (`spo.circuit_breaker`, migration 8): every
/// transition is one atomic statement that checks the state it starts from, so of several
/// workers (or hosts) seeing the same thing at once, one makes the transition and the others
/// find it made. The table's trigger announces every transition on `channel`.
public enum BreakerStore {
    /// The `NOTIFY` channel of transitions; the payload is the connection's name.
    public static let channel = "spo_breaker"

    /// The settings columns of `spo.connection`, in the order of `values(_:)`.
    static let settingsColumns = """
        breaker_enabled, breaker_failure_rate, breaker_window_calls, breaker_minimum_calls, breaker_open_ms, \
        breaker_half_open_probes
        """

    /// `SET` of every settings column from `EXCLUDED` (an upsert of a connection).
    static let settingsUpdate = settingsColumns.split(separator: ",").map {
        let column = $0.trimmingCharacters(in: .whitespaces)
        return "\(column) = EXCLUDED.\(column)"
    }.joined(separator: ", ")

    /// The values of the settings columns, as bind parameters.
    static func values(_ settings: BreakerSettings) -> [String?] {
        [
            settings.enabled ? "true" : "false", String(settings.failureRateThreshold), String(settings.windowCalls),
            String(settings.minimumCalls), String(settings.openMilliseconds), String(settings.halfOpenProbes),
        ]
    }

    /// The settings read from `settingsColumns`, starting at column `first` of `row`.
    static func settings(_ result: PGResult, _ row: Int, from first: Int) -> BreakerSettings {
        var settings = BreakerSettings()
        func int(_ offset: Int, _ fallback: Int) -> Int {
            result.value(row, first + offset).flatMap(Int.init) ?? fallback
        }
        settings.enabled = result.value(row, first) != "f"
        settings.failureRateThreshold = int(1, settings.failureRateThreshold)
        settings.windowCalls = int(2, settings.windowCalls)
        settings.minimumCalls = int(3, settings.minimumCalls)
        settings.openMilliseconds = int(4, settings.openMilliseconds)
        settings.halfOpenProbes = int(5, settings.halfOpenProbes)
        return settings
    }

    // MARK: - Reading

    /// Every breaker row (connections without one are closed and were never opened).
    public static func all(on control: PGConnection) throws(PGError) -> [BreakerSnapshot] {
        snapshots(try control.execute("SELECT \(row) FROM spo.circuit_breaker b ORDER BY b.connection"))
    }

    // MARK: - Transitions

    /// closed → open, when a worker's window reached the threshold. Nil when the breaker was not
    /// closed any more (another worker opened it first): read the row then.
    static func open(
        _ connection: String, for settings: BreakerSettings, by owner: String, reason: String, on control: PGConnection
    ) throws(PGError) -> BreakerSnapshot? {
        snapshots(
            try control.execute(
                """
                INSERT INTO spo.circuit_breaker AS b (connection, state, generation, opened_at, open_until, changed_by,
                    reason)
                VALUES ($1, 'open', 1, now(), now() + $2::bigint * interval '1 millisecond', $3, $4)
                ON CONFLICT (connection) DO UPDATE SET state = 'open', generation = b.generation + 1, opened_at = now(),
                    open_until = EXCLUDED.open_until, probes = '{}', probes_succeeded = 0, changed_at = now(),
                    changed_by = EXCLUDED.changed_by, reason = EXCLUDED.reason
                WHERE b.state = 'closed'
                RETURNING \(row)
                """, [connection, String(settings.openMilliseconds), owner, reason])
        ).first
    }

    /// Takes one of the half-open probe slots (open → half-open first, once the open duration
    /// passed), leased for `leaseMilliseconds`: a probe whose worker died frees its slot when the
    /// lease ends. Nil when no slot is free or the breaker is not due.
    static func claimProbe(
        _ connection: String, id: String, leaseMilliseconds: Int, for settings: BreakerSettings, by owner: String,
        on control: PGConnection
    ) throws(PGError) -> BreakerSnapshot? {
        snapshots(
            try control.execute(
                """
                UPDATE spo.circuit_breaker b SET
                    probes = (SELECT COALESCE(jsonb_object_agg(p.key, p.value), '{}')
                              FROM jsonb_each(CASE WHEN b.state = 'open' THEN '{}' ELSE b.probes END) p
                              WHERE \(leaseLive))
                             || jsonb_build_object($2::text, extract(epoch FROM now()) * 1000 + $3::bigint),
                    state = 'half_open',
                    generation = b.generation + CASE WHEN b.state = 'open' THEN 1 ELSE 0 END,
                    probes_succeeded = CASE WHEN b.state = 'open' THEN 0 ELSE b.probes_succeeded END,
                    changed_at = CASE WHEN b.state = 'open' THEN now() ELSE b.changed_at END,
                    changed_by = CASE WHEN b.state = 'open' THEN $5 ELSE b.changed_by END,
                    reason = CASE WHEN b.state = 'open' THEN 'open duration passed; probing' ELSE b.reason END
                WHERE b.connection = $1
                  AND (b.state = 'open' AND b.open_until <= now()
                       OR b.state = 'half_open' AND (SELECT count(*) FROM jsonb_each(b.probes) p WHERE \(leaseLive)) < $4)
                RETURNING \(row)
                """,
                [connection, id, String(leaseMilliseconds), String(settings.halfOpenProbes), owner])
        ).first
    }

    /// A probe succeeded: its slot is released, and with `half_open_probes` successes the breaker
    /// closes. Nil when the breaker moved on meanwhile (another probe failed, a reset).
    static func probeSucceeded(
        _ connection: String, id: String, generation: Int64, for settings: BreakerSettings, by owner: String,
        on control: PGConnection
    ) throws(PGError) -> BreakerSnapshot? {
        snapshots(
            try control.execute(
                """
                UPDATE spo.circuit_breaker b SET
                    state = CASE WHEN b.probes_succeeded + 1 >= $4 THEN 'closed' ELSE 'half_open' END,
                    generation = b.generation + CASE WHEN b.probes_succeeded + 1 >= $4 THEN 1 ELSE 0 END,
                    probes = CASE WHEN b.probes_succeeded + 1 >= $4 THEN '{}' ELSE b.probes - $2::text END,
                    probes_succeeded = CASE WHEN b.probes_succeeded + 1 >= $4 THEN 0 ELSE b.probes_succeeded + 1 END,
                    opened_at = CASE WHEN b.probes_succeeded + 1 >= $4 THEN NULL ELSE b.opened_at END,
                    open_until = CASE WHEN b.probes_succeeded + 1 >= $4 THEN NULL ELSE b.open_until END,
                    changed_at = CASE WHEN b.probes_succeeded + 1 >= $4 THEN now() ELSE b.changed_at END,
                    changed_by = CASE WHEN b.probes_succeeded + 1 >= $4 THEN $5 ELSE b.changed_by END,
                    reason = CASE WHEN b.probes_succeeded + 1 >= $4 THEN (b.probes_succeeded + 1)::text || ' probe(s) succeeded'
                        ELSE b.reason END
                WHERE b.connection = $1 AND b.state = 'half_open' AND b.generation = $3
                RETURNING \(row)
                """, [connection, id, String(generation), String(settings.halfOpenProbes), owner])
        ).first
    }

    /// A probe failed: half-open → open, for another open duration. Nil when the breaker moved on.
    static func probeFailed(
        _ connection: String, generation: Int64, for settings: BreakerSettings, by owner: String, reason: String,
        on control: PGConnection
    ) throws(PGError) -> BreakerSnapshot? {
        snapshots(
            try control.execute(
                """
                UPDATE spo.circuit_breaker b SET state = 'open', generation = b.generation + 1, opened_at = now(),
                    open_until = now() + $3::bigint * interval '1 millisecond', probes = '{}', probes_succeeded = 0,
                    changed_at = now(), changed_by = $4, reason = $5
                WHERE b.connection = $1 AND b.state = 'half_open' AND b.generation = $2
                RETURNING \(row)
                """, [connection, String(generation), String(settings.openMilliseconds), owner, reason])
        ).first
    }

    /// Closes the breaker whatever its state (an administrator's reset). Nil when there is no such
    /// connection.
    public static func reset(_ connection: String, by user: String, on control: PGConnection) throws(PGError)
        -> BreakerSnapshot?
    {
        do throws(PGError) {
            return snapshots(
                try control.execute(
                    """
                    INSERT INTO spo.circuit_breaker AS b (connection, state, generation, changed_by, reason)
                    VALUES ($1, 'closed', 1, $2, 'reset by an administrator')
                    ON CONFLICT (connection) DO UPDATE SET state = 'closed', generation = b.generation + 1,
                        opened_at = NULL, open_until = NULL, probes = '{}', probes_succeeded = 0, changed_at = now(),
                        changed_by = EXCLUDED.changed_by, reason = EXCLUDED.reason
                    RETURNING \(row)
                    """, [connection, user])
            ).first
        } catch  where error.sqlstate == "23503" {
            return nil
        }
    }

    // MARK: - Rows

    /// A probe slot whose lease has not ended (`p` a member of `probes`).
    private static let leaseLive = "p.value::numeric > extract(epoch FROM now()) * 1000"

    /// The columns `snapshots(_:)` reads, of `spo.circuit_breaker b`.
    private static let row = """
        b.connection, b.state, b.generation,
        GREATEST(0, ceil(extract(epoch FROM b.open_until - now()) * 1000))::bigint,
        to_json(b.opened_at) #>> '{}', to_json(b.changed_at) #>> '{}', b.changed_by, b.reason,
        (SELECT count(*) FROM jsonb_each(b.probes) p WHERE \(leaseLive))::int, b.probes_succeeded
        """

    private static func snapshots(_ result: PGResult) -> [BreakerSnapshot] {
        (0..<result.rowCount).map { row in
            BreakerSnapshot(
                connection: result.value(row, 0) ?? "",
                state: BreakerState(rawValue: result.value(row, 1) ?? "") ?? .closed,
                generation: result.value(row, 2).flatMap(Int64.init) ?? 0,
                remainingOpenMilliseconds: result.value(row, 3).flatMap(Int.init) ?? 0, openedAt: result.value(row, 4),
                changedAt: result.value(row, 5), changedBy: result.value(row, 6), reason: result.value(row, 7),
                probesInFlight: result.value(row, 8).flatMap(Int.init) ?? 0,
                probesSucceeded: result.value(row, 9).flatMap(Int.init) ?? 0)
        }
    }
}
