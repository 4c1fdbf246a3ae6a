extension Migration {
    /// A service's status overrides for `SP_EXECUTION_FAILED` (the service document's `errors`):
    /// `{"P0001": 409, "23": 422}`. Empty for every existing service, which keeps the default table.
    static let errorStatuses = Migration(
        version: 5, name: "status overrides of execution errors",
        sql: """
            ALTER TABLE spo.service_configuration
                ADD COLUMN error_statuses jsonb NOT NULL DEFAULT '{}'
                    CHECK (jsonb_typeof(error_statuses) = 'object');
            """)
}
