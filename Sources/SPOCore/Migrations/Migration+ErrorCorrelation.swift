extension Migration {
    /// Error rows carry the request's correlation id, like execution rows: a 401 or 404, which
    /// belongs to no execution, could otherwise not be tied to the client's request or log lines.
    static let errorCorrelation = Migration(
        version: 10, name: "correlation id on error rows",
        sql: """
            ALTER TABLE spo.service_error ADD COLUMN correlation_id text;
            """)
}
