extension Migration {
    /// The seven tables of the seed (in English) plus `connection`, and the trigger that tells
    /// every worker to reload when configuration changes.
    static let controlSchema = Migration(
        version: 1, name: "control schema",
        sql: #"""
            CREATE TABLE spo.connection (
                name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
                conninfo      text NOT NULL,
                password_from text CHECK (password_from IS NULL OR password_from ~ '^(env|file):.+'),
                description   text NOT NULL DEFAULT '',
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE spo.service_retry_policy (
                name                text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
                max_attempts        int NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 20),
                initial_backoff_ms  int NOT NULL DEFAULT 50 CHECK (initial_backoff_ms >= 0),
                multiplier          double precision NOT NULL DEFAULT 2 CHECK (multiplier >= 1),
                max_backoff_ms      int NOT NULL DEFAULT 2000 CHECK (max_backoff_ms >= 0),
                jitter              double precision NOT NULL DEFAULT 0.2 CHECK (jitter BETWEEN 0 AND 1),
                retryable_sqlstates text[] NOT NULL DEFAULT '{40001,40P01,08,57P01,57P02,57P03,53300}',
                created_at          timestamptz NOT NULL DEFAULT now(),
                updated_at          timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE spo.service (
                id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
                description   text NOT NULL DEFAULT '',
                enabled       boolean NOT NULL DEFAULT true,
                kind          text NOT NULL DEFAULT 'procedure' CHECK (kind IN ('procedure', 'parallel', 'saga')),
                connection    text NOT NULL REFERENCES spo.connection (name) ON UPDATE CASCADE,
                timeout_ms    int NOT NULL DEFAULT 30000 CHECK (timeout_ms BETWEEN 1 AND 3600000),
                retry_policy  text REFERENCES spo.service_retry_policy (name) ON UPDATE CASCADE,
                version       int NOT NULL DEFAULT 1,
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE spo.service_configuration (
                service_id    bigint PRIMARY KEY REFERENCES spo.service (id) ON DELETE CASCADE,
                procedure     text NOT NULL,
                result_shape  text NOT NULL CHECK (result_shape IN ('set', 'scalar', 'void', 'procedure')),
                parameters    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(parameters) = 'array'),
                updated_at    timestamptz NOT NULL DEFAULT now()
            );

            -- The audit log, written on every request: kept to the indexes its readers need.
            -- service_id has no foreign key on purpose: the audit must outlive a deleted service,
            -- and the check would cost a lookup on every request.
            CREATE TABLE spo.service_execution (
                id             uuid PRIMARY KEY,  -- version 7: time-ordered
                service_id     bigint,
                service_name   text NOT NULL,
                parameters     jsonb,
                status         text NOT NULL
                    CHECK (status IN ('running', 'succeeded', 'failed', 'timeout', 'rejected', 'interrupted')),
                http_status    int,
                error_code     text,
                attempts       int NOT NULL DEFAULT 0,
                duration_ms    double precision,
                user_name      text NOT NULL DEFAULT 'anonymous',
                correlation_id text,
                idempotency_key text,
                reprocess_of   uuid REFERENCES spo.service_execution (id),
                result_summary jsonb,
                attempt_log    jsonb NOT NULL DEFAULT '[]',
                started_at     timestamptz NOT NULL,
                finished_at    timestamptz
            );
            -- Listings page by id (time-ordered), filtered by service or status. Most rows succeed;
            -- listing by another status is what needs an index.
            CREATE INDEX service_execution_service_id ON spo.service_execution (service_name, id);
            CREATE INDEX service_execution_unsuccessful_id ON spo.service_execution (status, id)
                WHERE status <> 'succeeded';

            CREATE TABLE spo.service_reprocessing (
                id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                original_execution_id uuid NOT NULL REFERENCES spo.service_execution (id),
                new_execution_id      uuid NOT NULL REFERENCES spo.service_execution (id),
                requested_by          text NOT NULL,
                reason                text NOT NULL DEFAULT '',
                created_at            timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX service_reprocessing_original ON spo.service_reprocessing (original_execution_id);

            CREATE TABLE spo.service_error (
                reference     uuid PRIMARY KEY,
                execution_id  uuid,
                service_name  text,
                code          text NOT NULL,
                http_status   int NOT NULL,
                sqlstate      text,
                message       text NOT NULL,
                detail        jsonb,
                created_at    timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX service_error_execution ON spo.service_error (execution_id);

            -- One row per attempt. The attempts are stored with their execution (attempt_log), so
            -- auditing a request is one row written, not two: on the request path the second
            -- insert cost the database a third more per request. This view lays them out as rows.
            CREATE VIEW spo.service_log AS
                SELECT e.id AS execution_id, a.attempt, a.outcome, a.sqlstate, a.message, a.queue_ms,
                       a.connect_ms, a.execute_ms, a.worker_pid,
                       e.started_at + make_interval(secs => coalesce(a.offset_ms, 0) / 1000) AS started_at
                FROM spo.service_execution e,
                     jsonb_to_recordset(e.attempt_log) AS a(attempt int, outcome text, sqlstate text, message text,
                         queue_ms float8, connect_ms float8, execute_ms float8, worker_pid int, offset_ms float8);

            -- Every change to configuration bumps the service version and wakes every worker.
            CREATE FUNCTION spo.touch_service() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.version := OLD.version + 1;
                NEW.updated_at := now();
                RETURN NEW;
            END $$;
            CREATE TRIGGER service_touch BEFORE UPDATE ON spo.service
                FOR EACH ROW EXECUTE FUNCTION spo.touch_service();

            CREATE FUNCTION spo.notify_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('spo_config', TG_TABLE_NAME);
                RETURN NULL;
            END $$;
            CREATE TRIGGER connection_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spo.connection
                FOR EACH STATEMENT EXECUTE FUNCTION spo.notify_config_changed();
            CREATE TRIGGER retry_policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spo.service_retry_policy
                FOR EACH STATEMENT EXECUTE FUNCTION spo.notify_config_changed();
            CREATE TRIGGER service_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spo.service
                FOR EACH STATEMENT EXECUTE FUNCTION spo.notify_config_changed();
            CREATE TRIGGER service_configuration_changed
                AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON spo.service_configuration
                FOR EACH STATEMENT EXECUTE FUNCTION spo.notify_config_changed();

            INSERT INTO spo.service_retry_policy (name) VALUES ('default');
            """#)
}
