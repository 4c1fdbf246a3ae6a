extension Migration {
    /// A composite service (kind `saga`) has no connection and no routine: its definition (the
    /// steps) is kept as the service document writes it, beside its parameters.
    static let compositeServices = Migration(
        version: 16, name: "composite service definitions",
        sql: """
            ALTER TABLE spo.service ALTER COLUMN connection DROP NOT NULL;
            ALTER TABLE spo.service_configuration ADD COLUMN IF NOT EXISTS composite jsonb;
            """)
}
