import SPOCore

/// Newest-first pages over rows keyed by time-ordered UUIDs (execution and saga ids are UUIDv7):
/// a page holds the rows older than the cursor, the id of the previous page's last row, so pages
/// neither skip nor repeat a row while new ones arrive. Shared by `GET /api/executions` and
/// `GET /api/sagas`.
struct KeysetPage {
    /// The rows a page may hold.
    static let limits = EndpointTable.pageSizes

    var limit = EndpointTable.defaultPageSize
    var cursor: String?

    /// The first page of the default size.
    init() {}

    /// `limit` and `cursor` from a query, with a problem for each bad one.
    init(_ query: [String: String], problems: inout [ParameterProblem]) {
        if let text = query["limit"] {
            if let number = Int(text), Self.limits.contains(number) {
                limit = number
            } else {
                problems.append(
                    .init(
                        parameter: "limit",
                        problem: "must be an integer from \(Self.limits.lowerBound) to \(Self.limits.upperBound)"))
            }
        }
        cursor = query["cursor"]
        if let cursor, !ExecutionQueries.isUUID(cursor) {
            problems.append(.init(parameter: "cursor", problem: "must be a next_cursor value from a previous page"))
        }
    }

    /// The statement answering `{"items": [...], "next_cursor"}` for `SELECT columns FROM table
    /// WHERE conditions`; the cursor is bound as parameter `$cursor` and the limit as `$limit`.
    /// It reads one row more than the page to know whether another page follows.
    static func statement(
        selecting columns: String, from table: String, where conditions: String, cursor: Int, limit: Int
    ) -> String {
        """
        WITH page AS (
            SELECT \(columns) FROM \(table)
            WHERE \(conditions) AND ($\(cursor)::uuid IS NULL OR id < $\(cursor))
            ORDER BY id DESC LIMIT $\(limit)::int + 1)
        SELECT json_build_object(
            'items', coalesce((SELECT json_agg(p ORDER BY p.id DESC) FROM (SELECT * FROM page ORDER BY id DESC LIMIT $\(limit)::int) p), '[]'),
            'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $\(limit)::int
                THEN (SELECT id FROM (SELECT id FROM page ORDER BY id DESC LIMIT $\(limit)::int) p ORDER BY id LIMIT 1) END)::text
        """
    }
}
