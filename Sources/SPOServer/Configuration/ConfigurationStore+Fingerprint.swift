import SPOCore
import SPOPostgres

extension ConfigurationStore {
    /// Which state of the control tables is current, in one cheap query: per table a snapshot
    /// is read from, its row count and a sum of hashes of its rows' `xmin` (the transaction that
    /// wrote each row version). Any committed insert, update or delete changes a row's `xmin` or
    /// the count, so equal fingerprints mean the same rows (a collision needs two different
    /// multisets of transaction ids with equal sums of their 64-bit hashes); a change that writes the
    /// same values again, or a `VACUUM FREEZE`, may change it needlessly, which costs one reload.
    ///
    /// Far cheaper than loading: no row is sent, nothing is parsed. `GET /api/openapi.json`
    /// compares it with its snapshot's on every request, so a change made a moment ago by any
    /// process shows at once, and an unchanged configuration is a cache lookup.
    public static func fingerprint(on connection: PGConnection) throws(PGError) -> String {
        let result = try connection.executePrepared(fingerprintStatement, sql: fingerprintSQL, [])
        return result.rowCount > 0 ? (result.value(0, 0) ?? "") : ""
    }

    static let fingerprintStatement = "spo_configuration_fingerprint_v1"

    /// Every table `load` reads.
    static let fingerprintSQL = """
        SELECT concat_ws('/',
            (SELECT count(*) || ':' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0) FROM spo.connection),
            (SELECT count(*) || ':' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0) FROM spo.service_retry_policy),
            (SELECT count(*) || ':' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0) FROM spo.api_key),
            (SELECT count(*) || ':' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0) FROM spo.service),
            (SELECT count(*) || ':' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0) FROM spo.service_configuration))
        """
}
