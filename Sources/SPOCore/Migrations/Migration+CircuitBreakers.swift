extension Migration {
    /// Circuit breakers per connection, shared by every worker of every host on this control
    /// database. The settings are columns of `connection` (checked here as in the document); the
    /// state is a row per connection, written only on transitions — a call reads the worker's
    /// copy — and announced on `spo_breaker` by a trigger, so a change made by a worker, an admin
    /// or by hand reaches every worker. `probes` holds the half-open probe slots as
    /// `{"<probe id>": <lease end, epoch ms>}`: a slot whose worker died frees itself when its
    /// lease ends. A call refused by an open breaker is audited as `circuit_open`.
    static let circuitBreakers = Migration(
        version: 8, name: "circuit breakers",
        sql: """
            ALTER TABLE spo.connection
                ADD COLUMN breaker_enabled boolean NOT NULL DEFAULT true,
                ADD COLUMN breaker_failure_rate int NOT NULL DEFAULT 50 CHECK (breaker_failure_rate BETWEEN 1 AND 100),
                ADD COLUMN breaker_window_calls int NOT NULL DEFAULT 20 CHECK (breaker_window_calls BETWEEN 1 AND 1000),
                ADD COLUMN breaker_minimum_calls int NOT NULL DEFAULT 10
                    CHECK (breaker_minimum_calls BETWEEN 1 AND 1000),
                ADD COLUMN breaker_open_ms int NOT NULL DEFAULT 30000 CHECK (breaker_open_ms BETWEEN 100 AND 86400000),
                ADD COLUMN breaker_half_open_probes int NOT NULL DEFAULT 3
                    CHECK (breaker_half_open_probes BETWEEN 1 AND 100),
                ADD CONSTRAINT connection_breaker_minimum_in_window CHECK (breaker_minimum_calls <= breaker_window_calls);

            CREATE TABLE spo.circuit_breaker (
                connection       text PRIMARY KEY REFERENCES spo.connection (name) ON UPDATE CASCADE ON DELETE CASCADE,
                state            text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
                generation       bigint NOT NULL DEFAULT 0,
                opened_at        timestamptz,
                open_until       timestamptz,
                probes           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(probes) = 'object'),
                probes_succeeded int NOT NULL DEFAULT 0,
                changed_at       timestamptz NOT NULL DEFAULT now(),
                changed_by       text,
                reason           text
            );

            CREATE FUNCTION spo.notify_breaker_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('spo_breaker', COALESCE(NEW.connection, OLD.connection));
                RETURN NULL;
            END $$;
            -- Transitions only: claiming or releasing a probe slot keeps the generation.
            CREATE TRIGGER circuit_breaker_changed AFTER UPDATE ON spo.circuit_breaker
                FOR EACH ROW WHEN (OLD.generation IS DISTINCT FROM NEW.generation)
                EXECUTE FUNCTION spo.notify_breaker_changed();
            CREATE TRIGGER circuit_breaker_added_or_removed AFTER INSERT OR DELETE ON spo.circuit_breaker
                FOR EACH ROW EXECUTE FUNCTION spo.notify_breaker_changed();

            ALTER TABLE spo.service_execution DROP CONSTRAINT service_execution_status_check;
            ALTER TABLE spo.service_execution ADD CONSTRAINT service_execution_status_check
                CHECK (status IN ('running', 'succeeded', 'failed', 'timeout', 'rejected', 'interrupted', 'circuit_open'));
            """)
}
