extension Migration {
    /// A parallel member's or a saga step's execution row names the composite execution it belongs to.
    static let compositeMembers = Migration(
        version: 11, name: "composite member executions",
        sql: """
            ALTER TABLE spo.service_execution ADD COLUMN parent_execution_id uuid;
            ALTER TABLE spo.service_execution ADD COLUMN member_name text;
            CREATE INDEX service_execution_parent ON spo.service_execution (parent_execution_id)
                WHERE parent_execution_id IS NOT NULL;
            """)
}
