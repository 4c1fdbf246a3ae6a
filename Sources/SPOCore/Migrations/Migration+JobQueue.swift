extension Migration {
    /// The queue of asynchronous executions (`Prefer: respond-async`): one job per execution,
    /// keyed by its id, claimed by consumers with `FOR UPDATE SKIP LOCKED` and leased for the
    /// service's timeout plus a margin. A consumer records the target transaction's id (`xid`)
    /// and the result before it commits there, so recovery of a lost consumer's job can ask the
    /// target whether that transaction committed (`pg_xact_status`) instead of guessing. The
    /// execution row exists from the enqueue on, `queued` then `running`, then its outcome.
    /// Queued jobs `NOTIFY spo_queue`, which wakes the consumers.
    static let jobQueue = Migration(
        version: 9, name: "job queue for asynchronous executions",
        sql: """
            ALTER TABLE spo.service_execution DROP CONSTRAINT IF EXISTS service_execution_status_check;
            ALTER TABLE spo.service_execution ADD CONSTRAINT service_execution_status_check
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timeout', 'rejected', 'interrupted',
                    'circuit_open'));

            CREATE TABLE spo.execution_job (
                execution_id        uuid PRIMARY KEY,
                service_name        text NOT NULL,
                -- The validated, effective parameters (defaults applied), as the audit keeps them.
                parameters          jsonb NOT NULL,
                state               text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),
                -- Times the job was claimed; bounds how often a job whose consumers keep dying is re-run.
                attempts            int NOT NULL DEFAULT 0,
                run_after           timestamptz NOT NULL DEFAULT now(),
                locked_by           text,
                locked_until        timestamptz,
                -- The lease a claim takes: the service's timeout plus a margin.
                lease_ms            int NOT NULL CHECK (lease_ms > 0),
                -- The prefix of the API key that enqueued it (NULL: anonymous), who may read it back.
                owner_key           text,
                -- The target transaction of the current claim, recorded before its COMMIT was sent.
                xid                 xid8,
                -- The call runs outside a transaction block (a procedure doing its own COMMIT).
                outside_transaction boolean NOT NULL DEFAULT false,
                -- The data of the run, recorded with xid (json: the text exactly as the target built it).
                result              json,
                created_at          timestamptz NOT NULL DEFAULT now(),
                finished_at         timestamptz
            );
            CREATE INDEX execution_job_queued ON spo.execution_job (run_after, execution_id) WHERE state = 'queued';
            CREATE INDEX execution_job_leased ON spo.execution_job (locked_until) WHERE state = 'running';

            CREATE FUNCTION spo.notify_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('spo_queue', '');
                RETURN NULL;
            END $$;
            CREATE TRIGGER execution_job_queued AFTER INSERT ON spo.execution_job
                FOR EACH STATEMENT EXECUTE FUNCTION spo.notify_job_queued();
            CREATE TRIGGER execution_job_requeued AFTER UPDATE OF state ON spo.execution_job
                FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
                EXECUTE FUNCTION spo.notify_job_queued();
            """)
}
