import SPOPostgres

/// What a stored connection's `conninfo` may say, checked when it is written (admin API and
/// `spo services import`). libpq parses it (`PGConninfo`), so a password is found in every
/// spelling libpq accepts — `password=…`, `postgresql://user:secret@host/db`, `?password=…`,
/// percent-encoded (`?%70assword=…`) — and text libpq would refuse at connect time is refused now.
///
/// The secret of a connection is named by `password_from`, nowhere else: a row of `spo.connection`
/// (conninfo plus `password_from`) says everything about how a worker connects, so export and
/// import reproduce it on another machine and `GET /api/connections` shows all of it. Hence
/// `passfile` and `service` (settings and passwords read from files of whatever machine runs the
/// worker) are refused too.
public enum ConninfoRules {
    /// Settings that are refused, with the reason.
    static let refused: [String: String] = [
        "passfile": "names a password file; reference the secret with password_from (file:NAME or pgpass) instead",
        "service": "reads settings from pg_service.conf on the worker's machine; write them in conninfo instead",
    ]

    /// Why `conninfo` may not be stored, or nil when it may.
    public static func problem(in conninfo: String) -> String? {
        let parsed: PGConninfo
        do throws(PGConninfoError) {
            parsed = try PGConninfo(parsing: conninfo)
        } catch {
            // libpq's message quotes the text near the fault, which could be part of a secret:
            // only quoted when the text does not mention one.
            let lowered = conninfo.lowercased()
            if lowered.contains("passw") || lowered.contains("%")
                || (lowered.hasPrefix("postgres") && lowered.contains("@"))
            {
                return "is not a valid libpq connection string (key=value pairs or a postgresql:// URI)"
            }
            return "is not a valid libpq connection string: \(error.message)"
        }
        for option in parsed.options {
            if option.isSecret {
                return "must not contain a password (\(option.keyword)); "
                    + "reference it with password_from (env:NAME, file:NAME or pgpass)"
            }
            if let reason = refused[option.keyword] { return "must not set \(option.keyword): it \(reason)" }
        }
        // A dbname that is itself a connection string is expanded by connections opened with
        // expand_dbname: its settings must follow the same rules.
        if let dbname = parsed["dbname"], PGConninfo.looksLikeConnectionString(dbname),
            let nested = problem(in: dbname)
        {
            return "dbname " + nested
        }
        return nil
    }
}
