extension Migration {
    /// `service_execution` partitioned by day, so that it can grow to tens of millions of rows and
    /// be pruned by dropping whole days.
    ///
    /// The partition key is the id, not `started_at`: ids are UUIDv7, whose first 48 bits are the
    /// Unix milliseconds the request arrived at, so a day is a range of ids
    /// (`spo.execution_id_floor`). That keeps the primary key what it was — `(id)`, unique over
    /// the whole table — so replays (`ON CONFLICT (id) DO NOTHING`), interrupted-row notes, the
    /// saga's upsert and every lookup by id work unchanged, and a lookup by id or a cursor page
    /// reads one day's small index. A time filter adds the id range of its times (widened by
    /// `spo.execution_id_slack`, the most the clocks of a worker and the database may disagree)
    /// to its `started_at` condition, which prunes the days outside it.
    ///
    /// Days are created ahead (`spo.create_execution_partitions`, run here, by `spo serve` at
    /// start and every hour, and by `spo prune`); a row whose day is missing — or whose id is no
    /// UUIDv7, as rows written before ids were — lands in the default partition, so an insert
    /// never fails for want of a partition. Creating a day moves the default's rows of that day
    /// into it. `spo.prune_executions` (for `spo_retention`) drops the days older than what is
    /// kept and deletes rows only in the day on the boundary and in the default partition.
    ///
    /// Existing rows are copied into the new table in this migration's transaction.
    static let partitionedExecutions = Migration(
        version: 17, name: "executions partitioned by day, with retention",
        sql: #"""
            -- The first id of a moment (shifted by `shift`): its Unix milliseconds, then zeros, clamped
            -- to what 48 bits hold. Immutable, so that a filter's bounds are constants when planned and
            -- the days outside them are pruned from the plan.
            CREATE FUNCTION spo.execution_id_floor(at timestamptz, shift interval DEFAULT interval '0') RETURNS uuid
                LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                RETURN (lpad(to_hex(CASE WHEN NOT isfinite(at) THEN CASE WHEN at < '1970-01-01Z' THEN 0
                        ELSE 281474976710655 END
                    ELSE least(greatest(floor((extract(epoch FROM at) + extract(epoch FROM shift)) * 1000)::bigint, 0),
                        281474976710655) END), 12, '0') || '00000000000000000000')::uuid;
            -- The moment an id was made (for a UUIDv7; any other id reads as some time all the same).
            CREATE FUNCTION spo.execution_id_time(id uuid) RETURNS timestamptz
                LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                RETURN to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0);
            -- How far a row's started_at may be from its id's time: the clocks of the worker that made
            -- the id and of the database that wrote started_at.
            CREATE FUNCTION spo.execution_id_slack() RETURNS interval
                LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN interval '1 minute';

            DROP VIEW spo.service_log;
            ALTER TABLE spo.service_reprocessing DROP CONSTRAINT service_reprocessing_original_execution_id_fkey;
            ALTER TABLE spo.service_execution RENAME TO service_execution_unpartitioned;

            CREATE TABLE spo.service_execution (
                id                  uuid NOT NULL,  -- version 7: time-ordered; the partition key
                service_id          bigint,
                service_name        text NOT NULL,
                parameters          jsonb,
                status              text NOT NULL CONSTRAINT service_execution_status_check
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timeout', 'rejected', 'interrupted',
                        'circuit_open')),
                http_status         int,
                error_code          text,
                attempts            int NOT NULL DEFAULT 0,
                duration_ms         double precision,
                user_name           text NOT NULL DEFAULT 'anonymous',
                correlation_id      text,
                idempotency_key     text,
                reprocess_of        uuid,
                result_summary      jsonb,
                attempt_log         jsonb NOT NULL DEFAULT '[]',
                started_at          timestamptz NOT NULL,
                finished_at         timestamptz,
                parent_execution_id uuid,
                member_name         text
            ) PARTITION BY RANGE (id);
            CREATE TABLE spo.service_execution_default PARTITION OF spo.service_execution DEFAULT;

            -- Creates the partitions of the days from `first` to `last` (UTC) that do not exist yet;
            -- returns how many it created. Attached rather than created as partitions: ATTACH does not
            -- lock the table against the inserts of the request path. A day the default partition
            -- holds rows of gets them moved in; if they cannot be moved (a reprocessing references
            -- one), the day stays in the default partition, which is still correct, only slower.
            CREATE FUNCTION spo.create_execution_partitions(first date, last date) RETURNS int
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s'
            AS $$
            DECLARE
                day date;
                lower_id uuid;
                upper_id uuid;
                partition text;
                created int := 0;
            BEGIN
                -- One creator at a time; the others find the days made, or come back later.
                IF NOT pg_try_advisory_xact_lock(hashtext('spo.create_execution_partitions')) THEN
                    RETURN 0;
                END IF;
                FOR day IN SELECT d::date FROM generate_series(first, last, interval '1 day') AS d LOOP
                    partition := 'service_execution_' || to_char(day, 'YYYYMMDD');
                    CONTINUE WHEN to_regclass('spo.' || partition) IS NOT NULL;
                    lower_id := spo.execution_id_floor(day::timestamp AT TIME ZONE 'UTC');
                    upper_id := spo.execution_id_floor((day + 1)::timestamp AT TIME ZONE 'UTC');
                    BEGIN
                        EXECUTE format('CREATE TABLE spo.%I (LIKE spo.service_execution INCLUDING DEFAULTS '
                            'INCLUDING CONSTRAINTS)', partition);
                        -- Reached through the parent only, whose grants say who may do what.
                        EXECUTE format('REVOKE ALL ON spo.%I FROM PUBLIC', partition);
                        IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'spo_worker') THEN
                            EXECUTE format('REVOKE ALL ON spo.%I FROM spo_worker, spo_retention', partition);
                        END IF;
                        IF EXISTS (SELECT FROM spo.service_execution_default WHERE id >= lower_id AND id < upper_id)
                        THEN
                            LOCK TABLE spo.service_execution_default IN EXCLUSIVE MODE;
                            EXECUTE format('WITH moved AS (DELETE FROM spo.service_execution_default '
                                'WHERE id >= $1 AND id < $2 RETURNING *) INSERT INTO spo.%I SELECT * FROM moved',
                                partition) USING lower_id, upper_id;
                        END IF;
                        EXECUTE format('ALTER TABLE spo.service_execution ATTACH PARTITION spo.%I '
                            'FOR VALUES FROM (%L) TO (%L)', partition, lower_id, upper_id);
                        created := created + 1;
                    EXCEPTION WHEN OTHERS THEN
                        RAISE WARNING 'the executions of % stay in the default partition for now: %', day, SQLERRM;
                    END;
                END LOOP;
                RETURN created;
            END $$;

            -- Today and the next `days_ahead` days.
            CREATE FUNCTION spo.create_execution_partitions(days_ahead int DEFAULT 7) RETURNS int
                LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
                RETURN spo.create_execution_partitions((now() AT TIME ZONE 'UTC')::date,
                    (now() AT TIME ZONE 'UTC')::date + least(greatest(days_ahead, 0), 366));

            -- The days the existing rows were made on, and the coming week; then the rows.
            SELECT spo.create_execution_partitions(d, d) FROM (
                SELECT DISTINCT (spo.execution_id_time(id) AT TIME ZONE 'UTC')::date AS d
                FROM spo.service_execution_unpartitioned
                WHERE substr(id::text, 15, 1) = '7' AND spo.execution_id_time(id) BETWEEN '2020-01-01Z' AND now() + interval '1 day'
            ) AS days;
            SELECT spo.create_execution_partitions(7);
            INSERT INTO spo.service_execution (id, service_id, service_name, parameters, status, http_status, error_code,
                    attempts, duration_ms, user_name, correlation_id, idempotency_key, reprocess_of, result_summary,
                    attempt_log, started_at, finished_at, parent_execution_id, member_name)
                SELECT id, service_id, service_name, parameters, status, http_status, error_code, attempts, duration_ms,
                    user_name, correlation_id, idempotency_key, reprocess_of, result_summary, attempt_log, started_at,
                    finished_at, parent_execution_id, member_name
                FROM spo.service_execution_unpartitioned;
            DROP TABLE spo.service_execution_unpartitioned;

            -- The indexes of before, now one small one per day.
            ALTER TABLE spo.service_execution ADD CONSTRAINT service_execution_pkey PRIMARY KEY (id);
            CREATE INDEX service_execution_service_id ON spo.service_execution (service_name, id);
            CREATE INDEX service_execution_unsuccessful_id ON spo.service_execution (status, id)
                WHERE status <> 'succeeded';
            CREATE INDEX service_execution_parent ON spo.service_execution (parent_execution_id)
                WHERE parent_execution_id IS NOT NULL;
            ALTER TABLE spo.service_reprocessing ADD CONSTRAINT service_reprocessing_original_execution_id_fkey
                FOREIGN KEY (original_execution_id) REFERENCES spo.service_execution (id);

            CREATE VIEW spo.service_log AS
                SELECT e.id AS execution_id, a.attempt, a.outcome, a.sqlstate, a.message, a.queue_ms,
                       a.connect_ms, a.execute_ms, a.worker_pid,
                       e.started_at + make_interval(secs => coalesce(a.offset_ms, 0) / 1000) AS started_at
                FROM spo.service_execution e,
                     jsonb_to_recordset(e.attempt_log) AS a(attempt int, outcome text, sqlstate text, message text,
                         queue_ms float8, connect_ms float8, execute_ms float8, worker_pid int, offset_ms float8);

            CREATE TRIGGER service_execution_finished BEFORE UPDATE ON spo.service_execution
                FOR EACH ROW WHEN (OLD.status NOT IN ('queued', 'running'))
                EXECUTE FUNCTION spo.refuse_changing_finished_execution();

            -- The grants of migration 13, on the new table (partitions are reached through it only).
            REVOKE ALL ON spo.service_execution_default FROM PUBLIC, spo_worker, spo_retention;
            REVOKE ALL ON spo.service_execution FROM spo_worker;
            GRANT SELECT, INSERT ON spo.service_execution TO spo_worker;
            GRANT UPDATE (status, http_status, error_code, attempts, duration_ms, attempt_log, finished_at)
                ON spo.service_execution TO spo_worker;
            GRANT SELECT ON spo.service_log TO spo_worker;
            GRANT SELECT, DELETE ON spo.service_execution TO spo_retention;

            -- Retention: what is older than `keep` goes — reprocessings and errors first (they
            -- reference executions), done jobs, then the executions: whole days dropped, rows deleted
            -- only in the day on the boundary and in the default partition. A queued or running
            -- execution stays, whatever its age (its day is kept). Returns what went.
            CREATE FUNCTION spo.prune_executions(keep interval, OUT dropped_partitions int, OUT executions bigint,
                    OUT errors bigint, OUT reprocessings bigint, OUT jobs bigint)
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s'
            AS $$
            DECLARE
                cutoff timestamptz := now() - keep;
                cutoff_id uuid := spo.execution_id_floor(now(), -keep);
                day record;
                n bigint;
                held boolean;
            BEGIN
                IF keep < interval '0' THEN
                    RAISE EXCEPTION 'the retention must not be negative: %', keep USING ERRCODE = 'invalid_parameter_value';
                END IF;
                dropped_partitions := 0;
                executions := 0;
                DELETE FROM spo.service_reprocessing r WHERE r.created_at < cutoff OR EXISTS (
                    SELECT FROM spo.service_execution e WHERE e.id = r.original_execution_id AND e.started_at < cutoff
                        AND e.status NOT IN ('queued', 'running'));
                GET DIAGNOSTICS reprocessings = ROW_COUNT;
                DELETE FROM spo.service_error WHERE created_at < cutoff;
                GET DIAGNOSTICS errors = ROW_COUNT;
                DELETE FROM spo.execution_job WHERE state = 'done' AND finished_at < cutoff;
                GET DIAGNOSTICS jobs = ROW_COUNT;
                FOR day IN
                    SELECT c.oid::regclass AS partition, b.upper_id
                    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid,
                        LATERAL (SELECT substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid)
                            FROM 'TO \(''([0-9a-f-]{36})''\)')::uuid AS upper_id) AS b
                    WHERE i.inhparent = 'spo.service_execution'::regclass AND b.upper_id <= cutoff_id
                    ORDER BY b.upper_id
                LOOP
                    BEGIN
                        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE status IN (''queued'', ''running''))',
                            day.partition) INTO held;
                        CONTINUE WHEN held;
                        EXECUTE format('SELECT count(*) FROM %s', day.partition) INTO n;
                        EXECUTE format('ALTER TABLE spo.service_execution DETACH PARTITION %s', day.partition);
                        EXECUTE format('DROP TABLE %s', day.partition);
                        dropped_partitions := dropped_partitions + 1;
                        executions := executions + n;
                    EXCEPTION WHEN OTHERS THEN
                        RAISE WARNING 'partition % kept for now: %', day.partition, SQLERRM;
                    END;
                END LOOP;
                -- The boundary day (its ids before the cutoff, less the slack) and the default partition.
                DELETE FROM spo.service_execution
                WHERE id < spo.execution_id_floor(cutoff, spo.execution_id_slack()) AND started_at < cutoff
                    AND status NOT IN ('queued', 'running');
                GET DIAGNOSTICS n = ROW_COUNT;
                executions := executions + n;
                -- Ids that tell no time (older ones than UUIDv7) are in the default partition, at any id.
                DELETE FROM spo.service_execution_default WHERE started_at < cutoff AND status NOT IN ('queued', 'running');
                GET DIAGNOSTICS n = ROW_COUNT;
                executions := executions + n;
                PERFORM spo.create_execution_partitions(7);
            END $$;

            REVOKE ALL ON FUNCTION spo.create_execution_partitions(date, date), spo.create_execution_partitions(int),
                spo.prune_executions(interval) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION spo.create_execution_partitions(int) TO spo_worker, spo_retention;
            GRANT EXECUTE ON FUNCTION spo.prune_executions(interval) TO spo_retention;
            """#)
}
