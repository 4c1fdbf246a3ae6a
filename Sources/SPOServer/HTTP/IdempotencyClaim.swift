import SPOCore
import SPOJSON
import SPOPostgres

/// The right to run the call an `Idempotency-Key` names, taken before the run: a row of
/// `spo.idempotency_key` inserted with `ON CONFLICT DO NOTHING`, so of any number of requests with
/// one key PostgreSQL lets exactly one insert it. Committed without waiting for the disk (a
/// connection of its own with `synchronous_commit = off`): visible to every worker at once, and
/// made durable by the next flushed commit — the audit statement that stores the answer writes
/// the row again if a PostgreSQL crash lost it; a flush per claim halved a worker's keyed calls. The others read the row in the same statement
/// and learn what to answer: the stored answer (a replay), 422 (other parameters), 409 (still
/// running), or — once the claim's lock has passed without an answer (its worker died) — that
/// they may take it over.
struct IdempotencyClaim {
    /// Who the key belongs to: the API key's prefix, or `anonymous`; two callers' keys never meet.
    var scope: String
    var key: String
    var fingerprint: String
    var service: String
    /// The execution the claim is for: the id the run audits, so a dead worker's claim names the
    /// execution its recovery audits as `interrupted`.
    var executionID: String
    /// How long the claim counts as running: the service's timeout plus `margin`.
    var lockMilliseconds: Int
    var ttlSeconds: Int

    /// What a worker may still be doing after the service's timeout: cancelling the statement (1 s
    /// more) and writing the audit (the control timeout, twice with the reconnect), and a second.
    static func margin(controlTimeout: Duration) -> Int {
        Int(controlTimeout.components.seconds) * 2000 + Int(controlTimeout.components.attoseconds / 500_000_000_000_000)
            + 2000
    }

    /// What the request does, given what the key's row says.
    enum Decision {
        /// This request holds the key: run, then store the answer (or release the key).
        case claimed
        /// The key's first request answered this: send it again, without running.
        case replay(HTTPResponse)
        /// The key was used for another call (of `service`).
        case mismatch(service: String)
        /// The key's first request is still running.
        case inUse(executionID: String)
        /// The key's first request never answered and its lock has passed: its worker died,
        /// perhaps after the routine ran. Not run again, since the service is not safe to repeat.
        case abandoned(executionID: String)
    }

    /// Takes the key, or says why not. `safeToRepeat`: whether a claim whose worker died may be
    /// taken over and run again (the service's `isSafeToRepeat`).
    func take(safeToRepeat: Bool, on connection: PGConnection) throws(PGError) -> Decision {
        // A statement that saw no row lost a race with an insert committed after its snapshot
        // began (or a row deleted meanwhile): the next one sees what happened. Bounded all the same.
        for _ in 0..<5 {
            let found = try connection.executePrepared(
                "spo_idempotency_claim_v1", sql: Self.claimSQL,
                [
                    scope, key, fingerprint, service, executionID, String(lockMilliseconds), String(ttlSeconds),
                ])
            guard found.rowCount > 0 else { continue }
            if found.value(0, 0) == "claimed" { return .claimed }
            let row = Row(found)
            // Our own claim: the statement was sent again after a lost connection.
            if row.executionID == executionID { return .claimed }
            if row.expired || (row.state == "running" && row.stale && safeToRepeat && row.fingerprint == fingerprint) {
                if try takeOver(from: row.executionID, on: connection) { return .claimed }
                continue
            }
            if row.fingerprint != fingerprint { return .mismatch(service: row.service) }
            if row.state == "completed" { return .replay(row.answer) }
            return row.stale ? .abandoned(executionID: row.executionID) : .inUse(executionID: row.executionID)
        }
        return .inUse(executionID: "")
    }

    /// Replaces an expired key, or a dead worker's claim, with this request's claim; false when
    /// another request did first.
    private func takeOver(from previous: String, on connection: PGConnection) throws(PGError) -> Bool {
        let taken = try connection.execute(
            """
            UPDATE spo.idempotency_key SET fingerprint = $3, service_name = $4, state = 'running',
                execution_id = $5::uuid, http_status = NULL, response_body = NULL, response_headers = NULL,
                locked_until = now() + make_interval(secs => $6::float8 / 1000), created_at = now(),
                expires_at = now() + make_interval(secs => $7::int)
            WHERE scope = $1 AND key = $2 AND execution_id = $8::uuid
              AND (state = 'completed' AND expires_at <= now() OR state = 'running' AND locked_until <= now())
            """,
            [scope, key, fingerprint, service, executionID, String(lockMilliseconds), String(ttlSeconds), previous])
        return taken.affectedRows == 1
    }

    /// Inserts the claim; when the key exists, reads its row instead (first column its state).
    static let claimSQL = """
        WITH claim AS (
            INSERT INTO spo.idempotency_key (scope, key, fingerprint, service_name, state, execution_id,
                locked_until, expires_at)
            VALUES ($1, $2, $3, $4, 'running', $5::uuid, now() + make_interval(secs => $6::float8 / 1000),
                now() + make_interval(secs => $7::int))
            ON CONFLICT (scope, key) DO NOTHING
            RETURNING 1)
        SELECT 'claimed'::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text FROM claim
        UNION ALL
        SELECT k.state, k.fingerprint, k.execution_id::text, k.http_status::text, k.response_body,
            k.response_headers::text, (k.locked_until <= now())::text,
            (k.expires_at <= now() AND (k.state = 'completed' OR k.locked_until <= now()))::text, k.service_name
        FROM spo.idempotency_key k
        WHERE k.scope = $1 AND k.key = $2 AND NOT EXISTS (SELECT 1 FROM claim)
        """

    /// A key's row as the claim statement reads it.
    private struct Row {
        var state: String
        var fingerprint: String
        var executionID: String
        var status: Int
        var body: String
        var headers: String
        var stale: Bool
        var expired: Bool
        var service: String

        init(_ result: PGResult) {
            state = result.value(0, 0) ?? ""
            fingerprint = result.value(0, 1) ?? ""
            executionID = result.value(0, 2) ?? ""
            status = Int(result.value(0, 3) ?? "") ?? 0
            body = result.value(0, 4) ?? ""
            headers = result.value(0, 5) ?? "[]"
            stale = result.value(0, 6) == "true"
            expired = result.value(0, 7) == "true"
            service = result.value(0, 8) ?? ""
        }

        /// The stored answer: its status, body and headers (the request's own correlation id and
        /// `Idempotent-Replayed` are added by the caller).
        var answer: HTTPResponse {
            let pairs = ((try? JSONValue.parse(headers))?.arrayValue ?? []).compactMap { pair -> (String, String)? in
                guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue,
                    let value = items[1].stringValue
                else { return nil }
                return (name, value)
            }
            return HTTPResponse(status: status, headers: pairs, body: Array(body.utf8))
        }
    }
}
