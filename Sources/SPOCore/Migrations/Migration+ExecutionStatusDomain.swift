extension Migration {
    /// `service_execution.status` admits the same statuses through a domain rather than a table
    /// CHECK: PostgreSQL reads a table's CHECK constraints from their stored text on every INSERT
    /// statement (parsing and planning the expression anew), while a domain's constraint is parsed
    /// once per backend and kept in its type cache. On the audit writer's batch INSERT that was
    /// about 13 µs of the control database's CPU per statement.
    ///
    /// The column changes type without a rewrite (the domain is over `text`); the partial index on
    /// `status` is rebuilt (it covers only unsuccessful rows). The constraint is added NOT VALID:
    /// every existing row already passed the table CHECK it replaces, and validating would read the
    /// whole table again; every new or changed row is checked.
    static let executionStatusDomain = Migration(
        version: 18, name: "execution status domain",
        sql: """
            CREATE DOMAIN spo.execution_status AS text;
            DROP TRIGGER service_execution_finished ON spo.service_execution;
            ALTER TABLE spo.service_execution DROP CONSTRAINT service_execution_status_check;
            ALTER TABLE spo.service_execution ALTER COLUMN status TYPE spo.execution_status;
            ALTER DOMAIN spo.execution_status ADD CONSTRAINT execution_status_known
                CHECK (VALUE IN ('queued', 'running', 'succeeded', 'failed', 'timeout', 'rejected', 'interrupted',
                    'circuit_open')) NOT VALID;
            CREATE TRIGGER service_execution_finished BEFORE UPDATE ON spo.service_execution
                FOR EACH ROW WHEN (OLD.status NOT IN ('queued', 'running'))
                EXECUTE FUNCTION spo.refuse_changing_finished_execution();
            """)
}
