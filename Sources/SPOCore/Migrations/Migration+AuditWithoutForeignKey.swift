extension Migration {
    /// The audit row of every request paid for a foreign-key trigger it never needed: `reprocess_of`
    /// is NULL on all but reprocessed executions, yet PostgreSQL queues and fires the check for
    /// each insert — about 14 µs of the database's time per request, measured with pgbench. The
    /// link is only written by reprocessing, after reading the original; `service_reprocessing`
    /// keeps both ends under foreign keys, so the history stays checked where it is recorded.
    static let auditWithoutForeignKey = Migration(
        version: 3, name: "audit rows without a foreign-key trigger",
        sql: """
            ALTER TABLE spo.service_execution DROP CONSTRAINT IF EXISTS service_execution_reprocess_of_fkey;
            """)
}
