extension Migration {
    /// A parallel member's or a saga step's execution row names the composite execution it belongs to.
    ///
    /// A composite service (parallel, saga) runs no routine of its own: it has no connection and
    /// no `service_configuration` row; its parameters and members (or steps) are the `composite`
    /// document, in the service document's format.
    static let compositeMembers = Migration(
        version: 11, name: "composite member executions",
        sql: """
            ALTER TABLE spo.service_execution ADD COLUMN parent_execution_id uuid;
            ALTER TABLE spo.service_execution ADD COLUMN member_name text;
            CREATE INDEX service_execution_parent ON spo.service_execution (parent_execution_id)
                WHERE parent_execution_id IS NOT NULL;
            ALTER TABLE spo.service ALTER COLUMN connection DROP NOT NULL;
            ALTER TABLE spo.service ADD COLUMN composite jsonb;
            ALTER TABLE spo.service ADD CONSTRAINT service_composite_shape
                CHECK ((kind = 'procedure') = (connection IS NOT NULL AND composite IS NULL));
            """)
}
