extension Migration {
    /// The saga log: each saga, its steps and compensations, and its timeline of events; every event
    /// is copied into a transactional outbox and published on `NOTIFY spo_saga` by a trigger.
    static let sagas = Migration(
        version: 12, name: "saga log",
        sql: """
            CREATE TABLE spo.saga (
                id             uuid PRIMARY KEY,          -- the parent execution's id
                service_name   text NOT NULL,
                state          text NOT NULL CHECK (state IN ('started', 'step_done', 'completed', 'failed',
                                   'compensating', 'compensated', 'compensation_failed')),
                last_step      text,                      -- the step the state refers to (step_done, failed)
                input          jsonb NOT NULL,            -- validated request parameters (sensitive ones redacted)
                context        jsonb NOT NULL DEFAULT '{"steps": {}}',
                error          jsonb,                     -- {"code", "message", "step"} of what failed
                owner_key      text,                      -- API key prefix that started it (NULL anonymous)
                correlation_id text,
                locked_by      text,                      -- the process running it (lease)
                locked_until   timestamptz,
                deadline       timestamptz NOT NULL,      -- started_at + the saga's timeout_ms
                started_at     timestamptz NOT NULL DEFAULT now(),
                updated_at     timestamptz NOT NULL DEFAULT now(),
                finished_at    timestamptz
            );
            CREATE INDEX saga_state_id ON spo.saga (state, id);
            CREATE INDEX saga_in_flight ON spo.saga (locked_until) WHERE state IN ('started', 'step_done', 'compensating');
            CREATE TABLE spo.saga_step (
                saga_id      uuid NOT NULL REFERENCES spo.saga (id),
                position     int NOT NULL,                -- 0-based order in the configuration
                name         text NOT NULL,
                service_name text NOT NULL,
                state        text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
                execution_id uuid,                        -- the step's row in service_execution
                xid          xid8,                        -- target transaction of the run, recorded before COMMIT
                input        jsonb,
                output       jsonb,                       -- the step's data
                error        jsonb,
                started_at   timestamptz NOT NULL DEFAULT now(),
                finished_at  timestamptz,
                PRIMARY KEY (saga_id, position)
            );
            CREATE TABLE spo.saga_compensation (
                saga_id      uuid NOT NULL,
                position     int NOT NULL,
                service_name text NOT NULL,
                state        text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
                attempts     int NOT NULL DEFAULT 0,
                execution_id uuid,
                input        jsonb,
                error        jsonb,
                started_at   timestamptz NOT NULL DEFAULT now(),
                finished_at  timestamptz,
                PRIMARY KEY (saga_id, position),
                FOREIGN KEY (saga_id, position) REFERENCES spo.saga_step (saga_id, position)
            );
            CREATE TABLE spo.saga_event (
                id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                saga_id  uuid NOT NULL REFERENCES spo.saga (id),
                step     text,                            -- NULL for saga-level events
                event    text NOT NULL CHECK (event IN ('saga_started', 'step_started', 'step_done', 'step_failed',
                             'compensation_started', 'compensation_done', 'compensation_failed', 'saga_completed',
                             'saga_failed', 'saga_compensating', 'saga_compensated', 'saga_compensation_failed',
                             'compensation_retried', 'saga_recovered')),
                detail   jsonb,
                at       timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE INDEX saga_event_saga ON spo.saga_event (saga_id, id);
            -- The transactional outbox: each event, in the same transaction, for a relay to publish elsewhere.
            CREATE TABLE spo.saga_outbox (
                id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                event_id     bigint NOT NULL REFERENCES spo.saga_event (id),
                payload      jsonb NOT NULL,              -- {"saga_id","service","event","step","detail","at"}
                created_at   timestamptz NOT NULL DEFAULT now(),
                published_at timestamptz
            );
            CREATE INDEX saga_outbox_unpublished ON spo.saga_outbox (id) WHERE published_at IS NULL;
            CREATE FUNCTION spo.saga_event_published() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                payload jsonb;
            BEGIN
                payload := jsonb_build_object('saga_id', NEW.saga_id,
                    'service', (SELECT service_name FROM spo.saga WHERE id = NEW.saga_id),
                    'event', NEW.event, 'step', NEW.step, 'detail', NEW.detail, 'at', NEW.at);
                INSERT INTO spo.saga_outbox (event_id, payload) VALUES (NEW.id, payload);
                PERFORM pg_notify('spo_saga', payload::text);
                RETURN NULL;
            END $$;
            CREATE TRIGGER saga_event_published AFTER INSERT ON spo.saga_event
                FOR EACH ROW EXECUTE FUNCTION spo.saga_event_published();
            """)
}
