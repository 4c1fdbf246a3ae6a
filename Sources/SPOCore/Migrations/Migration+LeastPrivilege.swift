extension Migration {
    /// The roles the control schema is used through, so that the pool need not be its owner:
    ///
    /// - `spo_worker` (NOLOGIN; the pool's login role is a member): reads the configuration,
    ///   writes it (the admin API is served by the workers), writes the audit — but history is
    ///   append-only: no DELETE of executions, errors or reprocessings, no UPDATE of errors or
    ///   reprocessings, and of an execution only the columns the queue settles (status, outcome,
    ///   attempts, timings), only while it is `queued` or `running` (a trigger refuses any update of
    ///   a finished row, whoever sends it). Idempotency keys: it may delete a running claim (the
    ///   release when nothing ran) or an expired key (the sweep), never a stored answer still valid
    ///   (row-level security), so a replay cannot be turned into a second run.
    /// - `spo_retention` (NOLOGIN): deletes old history, finished jobs and expired keys.
    ///
    /// Roles belong to the cluster, not the database: created once, tolerated when another
    /// database's migration creates them at the same moment. Tables added by later migrations get
    /// read, insert and update for `spo_worker` by default (never delete); a migration that adds
    /// history tightens its own grants.
    static let leastPrivilege = Migration(
        version: 13, name: "least-privilege roles and append-only history",
        sql: #"""
            DO $$
            DECLARE
                v_role text;
            BEGIN
                FOREACH v_role IN ARRAY ARRAY['spo_worker', 'spo_retention'] LOOP
                    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
                        BEGIN
                            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
                        EXCEPTION WHEN duplicate_object OR unique_violation THEN
                            NULL;  -- another database's migration created it meanwhile
                        END;
                    END IF;
                END LOOP;
            END $$;

            GRANT USAGE ON SCHEMA spo TO spo_worker, spo_retention;
            GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA spo TO spo_worker;
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA spo TO spo_worker;
            ALTER DEFAULT PRIVILEGES IN SCHEMA spo GRANT SELECT, INSERT, UPDATE ON TABLES TO spo_worker;
            ALTER DEFAULT PRIVILEGES IN SCHEMA spo GRANT USAGE ON SEQUENCES TO spo_worker;

            -- Configuration the admin API deletes (a service's configuration and breaker go with it;
            -- a service rewritten as a composite loses its configuration row).
            GRANT DELETE ON spo.service, spo.service_configuration, spo.connection, spo.service_retry_policy
                TO spo_worker;

            -- History: appended, never rewritten.
            REVOKE INSERT, UPDATE ON spo.schema_migrations FROM spo_worker;
            REVOKE UPDATE ON spo.service_execution, spo.service_error, spo.service_reprocessing, spo.api_key
                FROM spo_worker;
            GRANT UPDATE (status, http_status, error_code, attempts, duration_ms, attempt_log, finished_at)
                ON spo.service_execution TO spo_worker;
            GRANT UPDATE (revoked_at) ON spo.api_key TO spo_worker;

            CREATE FUNCTION spo.refuse_changing_finished_execution() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'execution % is %: the audit row of a finished execution is never changed',
                    OLD.id, OLD.status USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER service_execution_finished BEFORE UPDATE ON spo.service_execution
                FOR EACH ROW WHEN (OLD.status NOT IN ('queued', 'running'))
                EXECUTE FUNCTION spo.refuse_changing_finished_execution();

            -- Idempotency keys: claims are released and expired keys swept by the workers.
            GRANT DELETE ON spo.idempotency_key TO spo_worker;
            ALTER TABLE spo.idempotency_key ENABLE ROW LEVEL SECURITY;
            CREATE POLICY idempotency_key_read ON spo.idempotency_key FOR SELECT USING (true);
            CREATE POLICY idempotency_key_claim ON spo.idempotency_key FOR INSERT WITH CHECK (true);
            CREATE POLICY idempotency_key_complete ON spo.idempotency_key FOR UPDATE USING (true) WITH CHECK (true);
            CREATE POLICY idempotency_key_release_or_expire ON spo.idempotency_key FOR DELETE
                USING (state = 'running' OR expires_at <= now());

            GRANT SELECT, DELETE ON spo.service_execution, spo.service_error, spo.service_reprocessing,
                spo.execution_job, spo.idempotency_key TO spo_retention;
            """#)
}
