-- The example database `demo`, loaded by the dev instance (`spo dev`):
--
--     psql -v ON_ERROR_STOP=1 -d demo -f examples/demo.sql
--
-- Every routine shape the executor must handle has one real example here, and
-- examples/services.json exposes each one as a service:
--
--   shape                          routine                  service
--   set-returning (RETURNS TABLE)  demo.get_customer        customer_get
--   set-returning (SETOF table)    demo.search_customers    customer_search
--   scalar                         demo.customer_count      customer_count
--   scalar jsonb, every type       demo.echo_types          echo_types
--   set-returning, extreme values  demo.big_numbers         big_numbers
--   void, writes                   demo.add_note            note_add
--   PROCEDURE with INOUT/OUT       demo.transfer            transfer
--   business error (P0001)         demo.fail_business       business_failure
--   sleeper (timeouts)             demo.slow                slow
--   transient error (40001)        demo.flaky               flaky
--
-- Least privilege: the dev instance loads this file as the database's owner role and connects the
-- services as a login role that owns nothing and reads no table; it may only EXECUTE the
-- registered routines (`spo grants`). So every routine that reads or writes a table (or a
-- sequence) is SECURITY DEFINER, with its search_path pinned (every name below is qualified), and
-- the routines that touch nothing run as the caller.
--
-- Re-runnable: the schema is dropped and rebuilt, and the data is generated
-- deterministically, so tests may rely on exact values (see the customer comment).
-- Plain SQL, no psql meta-commands, so it can also be sent in one PQexec.

SET client_min_messages = warning;   -- why: keep "drop cascades to ..." notices out of the dev log

BEGIN;

DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;
COMMENT ON SCHEMA demo IS 'Example procedures exposed by SPOrchestrator''s example configuration';

-- ---------------------------------------------------------------------------
-- Data
-- ---------------------------------------------------------------------------

CREATE TABLE demo.customer (
    id         int PRIMARY KEY,
    name       text NOT NULL,
    email      text NOT NULL,
    balance    numeric(12,2) NOT NULL CHECK (balance >= 0),
    tags       text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE demo.customer IS
    'Customers 1..1000. Deterministic: name from two fixed lists (some non-ASCII, to test UTF-8), '
    'email c<id>@example.com, balance 100.00 + (id*37 % 1000) * 1.25 except ids that are multiples '
    'of 100, which have balance 0 (a transfer from them fails with insufficient funds), '
    'created_at 2026-01-01 00:00 UTC minus id minutes (as in the benchmark workload).';

-- why generate_series and fixed arrays instead of random(): tests need the same rows every load.
INSERT INTO demo.customer (id, name, email, balance, tags, created_at)
SELECT g,
       (ARRAY['Ana', 'Bruno', 'Chloé', 'Dmitri', 'Élodie', 'Farid', 'Grace', 'Hiroshi', 'Inés', 'José',
              'Kwame', 'Łukasz', 'Maria', 'Noah', 'Olga', 'Priya', 'Quentin', 'Rosa', 'Søren', 'Zoë'])[1 + g % 20]
       || ' ' ||
       (ARRAY['Almeida', 'Brown', 'Chen', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Hansen', 'Ivanova', 'Jones',
              'Kowalski', 'López', 'Müller', 'Nakamura', 'O''Brien', 'Petrov', 'Quinn', 'Rossi', 'Smith', 'Tanaka',
              'Úlfarsson', 'Varga', 'Weber', 'Xu', 'Yılmaz'])[1 + (g / 20) % 25],
       'c' || g || '@example.com',
       CASE WHEN g % 100 = 0 THEN 0 ELSE 100.00 + (g * 37 % 1000) * 1.25 END,
       ARRAY[(ARRAY['retail', 'wholesale', 'partner'])[1 + g % 3]]
           || CASE WHEN g % 50 = 0 THEN ARRAY['vip'] ELSE '{}'::text[] END,
       timestamptz '2026-01-01 00:00:00+00' - make_interval(mins => g)
FROM generate_series(1, 1000) AS g;

CREATE TABLE demo.order_note (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL REFERENCES demo.customer (id),
    note        text NOT NULL CHECK (length(note) BETWEEN 1 AND 500),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE demo.order_note IS 'Written by demo.add_note (the void-function example)';

-- why a sequence: transfer references should be unique and readable, not random.
CREATE SEQUENCE demo.transfer_reference_seq;

-- ---------------------------------------------------------------------------
-- Set-returning functions
-- ---------------------------------------------------------------------------

-- Same signature as the benchmark workload (/work/shared/bench/workload.sql), so the benchmark's
-- service definition works against the dev instance too.
CREATE FUNCTION demo.get_customer(p_id int)
    RETURNS TABLE (id int, name text, email text, balance numeric, created_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, c.name, c.email, c.balance, c.created_at
    FROM demo.customer AS c
    WHERE c.id = p_id
$$;
COMMENT ON FUNCTION demo.get_customer(int) IS 'One customer by id (zero or one row)';

-- Optional parameters with SQL defaults: a client may omit any of them and PostgreSQL fills in
-- the default (the executor passes only what it was given, in named notation).
-- Returns SETOF a table type rather than RETURNS TABLE, so both catalog shapes are exercised;
-- the rows include the text[] column `tags`.
CREATE FUNCTION demo.search_customers(
    p_name        text    DEFAULT NULL,
    p_min_balance numeric DEFAULT 0,
    p_limit       int     DEFAULT 10)
    RETURNS SETOF demo.customer
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.*
    FROM demo.customer AS c
    WHERE (p_name IS NULL OR c.name ILIKE '%' || p_name || '%')
      AND c.balance >= coalesce(p_min_balance, 0)
    ORDER BY c.id
    -- why clamp here too: the service validates 1..100, but the database should not trust callers.
    LIMIT least(greatest(coalesce(p_limit, 10), 1), 100)
$$;
COMMENT ON FUNCTION demo.search_customers(text, numeric, int) IS
    'Customers whose name contains p_name (case-insensitive) with at least p_min_balance, by id, at most p_limit';

-- A row of extreme values: the JSON answer must carry every digit
-- (no float conversion of bigint or numeric anywhere on the path).
CREATE FUNCTION demo.big_numbers()
    RETURNS TABLE (big bigint, small bigint, exact numeric)
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT 9223372036854775807::bigint,
           (-9223372036854775808)::bigint,
           12345678901234567890.123456789::numeric
$$;
COMMENT ON FUNCTION demo.big_numbers() IS 'One row: bigint max, bigint min and a 29-digit numeric';

-- ---------------------------------------------------------------------------
-- Scalar functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION demo.customer_count(p_min_balance numeric DEFAULT 0)
    RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FROM demo.customer AS c WHERE c.balance >= coalesce(p_min_balance, 0)
$$;
COMMENT ON FUNCTION demo.customer_count(numeric) IS 'How many customers have at least p_min_balance';

-- One parameter of every type the executor supports, each optional, echoed back as jsonb keyed by
-- the type name (without the p_ prefix): tests send a value and check it comes back unchanged.
-- Note that PostgreSQL drops the (20) of varchar(20) from a function signature, so the length limit
-- is enforced only by the service's maxLength validation.
-- STABLE, not IMMUTABLE: timestamptz → json depends on the session's TimeZone.
CREATE FUNCTION demo.echo_types(
    p_smallint    smallint         DEFAULT NULL,
    p_integer     integer          DEFAULT NULL,
    p_bigint      bigint           DEFAULT NULL,
    p_numeric     numeric          DEFAULT NULL,
    p_real        real             DEFAULT NULL,
    p_double      double precision DEFAULT NULL,
    p_text        text             DEFAULT NULL,
    p_varchar     varchar(20)      DEFAULT NULL,
    p_boolean     boolean          DEFAULT NULL,
    p_date        date             DEFAULT NULL,
    p_timestamp   timestamp        DEFAULT NULL,
    p_timestamptz timestamptz      DEFAULT NULL,
    p_uuid        uuid             DEFAULT NULL,
    p_json        json             DEFAULT NULL,
    p_jsonb       jsonb            DEFAULT NULL,
    p_int_array   integer[]        DEFAULT NULL,
    p_text_array  text[]           DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'smallint',    p_smallint,
        'integer',     p_integer,
        'bigint',      p_bigint,
        'numeric',     p_numeric,
        'real',        p_real,
        'double',      p_double,
        'text',        p_text,
        'varchar',     p_varchar,
        'boolean',     p_boolean,
        'date',        p_date,
        'timestamp',   p_timestamp,
        'timestamptz', p_timestamptz,
        'uuid',        p_uuid,
        'json',        p_json,
        'jsonb',       p_jsonb,
        'int_array',   p_int_array,
        'text_array',  p_text_array)
$$;
COMMENT ON FUNCTION demo.echo_types(smallint, integer, bigint, numeric, real, double precision, text, varchar,
                                    boolean, date, timestamp, timestamptz, uuid, json, jsonb, integer[], text[]) IS
    'Echoes one value of each supported type as a jsonb object (type round-trip tests)';

-- ---------------------------------------------------------------------------
-- Void function (writes)
-- ---------------------------------------------------------------------------

CREATE FUNCTION demo.add_note(p_customer_id int, p_note text)
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    -- An unknown customer fails the foreign key (SQLSTATE 23503): a database error, not a business one.
    INSERT INTO demo.order_note (customer_id, note) VALUES (p_customer_id, p_note)
$$;
COMMENT ON FUNCTION demo.add_note(int, text) IS 'Adds a note to a customer; returns nothing';

-- ---------------------------------------------------------------------------
-- PROCEDURE with INOUT and OUT parameters
-- ---------------------------------------------------------------------------

-- Moves p_amount from one customer to another and reports both new balances.
--
-- Parameter order: PostgreSQL (15) refuses "procedure OUT parameters cannot appear after one with
-- a default value", so the OUT parameters come BEFORE the defaulted INOUT p_reference. Callers use
-- named notation, where order does not matter; OUT parameters are passed as NULL placeholders:
--
--   CALL demo.transfer(p_from => 1, p_to => 2, p_amount => 1.00, p_reference => NULL,
--                      p_from_balance => NULL, p_to_balance => NULL);
--
-- p_reference may also be omitted (its DEFAULT NULL applies); the OUT placeholders may not.
CREATE PROCEDURE demo.transfer(
    IN    p_from         int,
    IN    p_to           int,
    IN    p_amount       numeric,
    OUT   p_from_balance numeric,
    OUT   p_to_balance   numeric,
    INOUT p_reference    text DEFAULT NULL)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_locked    int;
    v_available numeric;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 OR p_amount <> round(p_amount, 2) THEN
        RAISE EXCEPTION 'amount must be positive with at most 2 decimals, got %', p_amount
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_from = p_to THEN
        RAISE EXCEPTION 'cannot transfer from customer % to itself', p_from
            USING ERRCODE = 'P0001';
    END IF;

    -- why lock both rows in id order: two opposite transfers then queue instead of deadlocking.
    SELECT count(*) INTO v_locked
    FROM (SELECT 1 FROM demo.customer WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE) AS locked;
    IF v_locked <> 2 THEN
        RAISE EXCEPTION 'unknown customer in transfer % -> %', p_from, p_to
            USING ERRCODE = 'no_data_found';
    END IF;

    SELECT balance INTO v_available FROM demo.customer WHERE id = p_from;
    IF v_available < p_amount THEN
        -- The business error the executor must report as SP_EXECUTION_FAILED and never retry.
        RAISE EXCEPTION 'insufficient funds: customer % has %, transfer needs %', p_from, v_available, p_amount
            USING ERRCODE = 'P0001',
                  DETAIL  = format('balance %s < amount %s', v_available, p_amount),
                  HINT    = 'Transfer a smaller amount or top up the source account first.';
    END IF;

    UPDATE demo.customer SET balance = balance - p_amount WHERE id = p_from
        RETURNING balance INTO p_from_balance;
    UPDATE demo.customer SET balance = balance + p_amount WHERE id = p_to
        RETURNING balance INTO p_to_balance;

    -- INOUT: keep the caller's reference, or issue one (TX-00000001, TX-00000002, ...).
    p_reference := coalesce(p_reference, 'TX-' || to_char(nextval('demo.transfer_reference_seq'), 'FM00000000'));
END
$$;
COMMENT ON PROCEDURE demo.transfer(int, int, numeric, numeric, numeric, text) IS
    'Moves p_amount between two customers; returns both balances and the transfer reference';

-- ---------------------------------------------------------------------------
-- Failures on purpose
-- ---------------------------------------------------------------------------

-- A business error: SQLSTATE P0001 (raise_exception) with a DETAIL and a HINT. Never retried.
CREATE FUNCTION demo.fail_business(p_code text DEFAULT 'E001')
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'business rule violated: %', p_code
        USING ERRCODE = 'P0001',
              DETAIL  = format('demo.fail_business always fails; it was asked for code %s', p_code),
              HINT    = 'This service exists to test error reporting.';
END
$$;
COMMENT ON FUNCTION demo.fail_business(text) IS 'Always raises a business error (SQLSTATE P0001)';

-- Sleeps, then answers 'done': a service timeout shorter than p_seconds must cancel the statement
-- in the server (pg_stat_activity shows no leftover pg_sleep).
CREATE FUNCTION demo.slow(p_seconds double precision)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM pg_sleep(p_seconds);
    RETURN 'done';
END
$$;
COMMENT ON FUNCTION demo.slow(double precision) IS 'Sleeps p_seconds, then returns ''done''';

-- demo.flaky(p_key, p_failures): the first p_failures calls for a key raise 40001
-- (serialization_failure, which the retry policy treats as transient); the next one returns
-- 'ok after N attempts' and forgets the key, so the same key can be reused for another round.
--
-- The difficulty: each failing call rolls back its own transaction, and with it any row it
-- inserted -- and any sequence it created (CREATE SEQUENCE is transactional, so "one sequence per
-- key, created on first use" forgets the key too). Only sequence VALUES survive a rollback
-- (nextval/setval are non-transactional). So attempts are recorded in a ring of pre-created
-- sequences used as registers:
--
--   demo.flaky_clock          nextval picks the next ring slot (t % 64)
--   demo.flaky_slot_00 .. 63  each holds the 63-bit hash of the key of one recent attempt (0 = empty)
--   demo.flaky_ring           view: (slot, mark) over all 64 registers
--
-- A key's attempt count = the registers holding its hash. A mark is overwritten after 64 further
-- calls, far more than one retry sequence makes; two different keys colliding on a 63-bit hash
-- is negligible. A round that never succeeds (p_failures >= max_attempts) leaves its marks: use a
-- fresh key (e.g. a UUID) per test when the ring is shared with earlier runs.
CREATE SEQUENCE demo.flaky_clock MINVALUE 0 START 0;
DO $$
DECLARE
    v_selects text[] := '{}';
BEGIN
    FOR i IN 0..63 LOOP
        EXECUTE format('CREATE SEQUENCE demo.%I MINVALUE 0 START 0', format('flaky_slot_%s', lpad(i::text, 2, '0')));
        v_selects := v_selects || format('SELECT %s AS slot, %L::regclass AS register, last_value AS mark FROM demo.%I',
                                         i, format('demo.flaky_slot_%s', lpad(i::text, 2, '0')),
                                         format('flaky_slot_%s', lpad(i::text, 2, '0')));
    END LOOP;
    EXECUTE 'CREATE VIEW demo.flaky_ring AS ' || array_to_string(v_selects, ' UNION ALL ');
END
$$;
COMMENT ON VIEW demo.flaky_ring IS 'The attempt registers of demo.flaky (non-transactional sequence values)';

CREATE FUNCTION demo.flaky(p_key text, p_failures int)
    RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- why | 1: a key's mark is never 0, which means "empty register".
    v_mark     bigint := (hashtextextended(p_key, 0) & 9223372036854775807) | 1;
    v_slot     bigint;
    v_attempts int;
BEGIN
    -- why: concurrent calls with the same key would otherwise both count the same attempts.
    -- (A transaction-level lock is fine: it only orders the calls, the marks outlive it.)
    PERFORM pg_advisory_xact_lock(v_mark);

    v_slot := nextval('demo.flaky_clock') % 64;
    PERFORM setval(register, v_mark) FROM demo.flaky_ring WHERE slot = v_slot;
    SELECT count(*) INTO v_attempts FROM demo.flaky_ring WHERE mark = v_mark;

    IF v_attempts <= coalesce(p_failures, 0) THEN
        RAISE EXCEPTION 'simulated serialization failure % of % for key %', v_attempts, p_failures, p_key
            USING ERRCODE = 'serialization_failure',
                  HINT    = 'Retry the transaction; demo.flaky succeeds once the failures are used up.';
    END IF;

    -- Success ends the round: clear this key's marks so the next call starts from attempt 1.
    PERFORM setval(register, 0) FROM demo.flaky_ring WHERE mark = v_mark;
    RETURN format('ok after %s attempts', v_attempts);
END
$$;
COMMENT ON FUNCTION demo.flaky(text, int) IS
    'Raises 40001 for the first p_failures calls with p_key, then returns ''ok after N attempts''';

COMMIT;

ANALYZE demo.customer;
