-- The example database `enrolment` of seed 004 (academic registration: a student enrols in several
-- groups of a term as one saga), loaded by the dev instance (`spo dev`, `make run`):
--
--     psql -v ON_ERROR_STOP=1 -d enrolment -f examples/enrolment.sql
--
-- examples/flow-004-enrolment.json exposes each function as a plain service; the saga that chains
-- them (examples/pending/flow-004-enrolment.saga.json) enrols in each group in turn and, when a
-- group refuses (full, closed term, already enrolled), cancels the enrolments made before it:
--
--   function                         service                 role in the saga
--   enrolment.enrol                  enrolment_enrol         a step: one seat in one group
--   enrolment.cancel_enrolment       enrolment_cancel        its compensation: the seat given back (idempotent)
--   enrolment.record_registration    enrolment_record        the last step: the registration of the term
--   enrolment.student_enrolments     enrolment_list          read: a student's active enrolments in a term
--
-- Re-runnable (the schema is dropped and rebuilt) and deterministic. Plain SQL, no psql meta-commands.
-- The services' role may only EXECUTE (README: Least privilege): each function runs as the
-- schema's owner (SECURITY DEFINER), with its search_path pinned to enrolment and the catalog.

SET client_min_messages = warning;   -- why: keep "drop cascades to ..." notices out of the dev log

BEGIN;

DROP SCHEMA IF EXISTS enrolment CASCADE;
CREATE SCHEMA enrolment;
COMMENT ON SCHEMA enrolment IS 'Seed 004: students, terms, course groups with seats, enrolments';

CREATE TABLE enrolment.student (
    id   text PRIMARY KEY,               -- the registro académico, e.g. EST001
    name text NOT NULL
);

CREATE TABLE enrolment.term (
    code text PRIMARY KEY,               -- e.g. 2024-2
    open boolean NOT NULL
);

CREATE TABLE enrolment.course_group (
    code      text PRIMARY KEY,          -- e.g. G-ELC102-E
    term_code text NOT NULL REFERENCES enrolment.term (code),
    course    text NOT NULL,
    capacity  int NOT NULL CHECK (capacity >= 0),
    -- why a counter with a CHECK: taking a seat is one UPDATE that cannot oversubscribe the group.
    enrolled  int NOT NULL DEFAULT 0 CHECK (enrolled BETWEEN 0 AND capacity)
);

CREATE TABLE enrolment.enrolment (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id   text NOT NULL REFERENCES enrolment.student (id),
    group_code   text NOT NULL REFERENCES enrolment.course_group (code),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz
);
-- One active seat per student and group.
CREATE UNIQUE INDEX enrolment_active ON enrolment.enrolment (student_id, group_code) WHERE status = 'active';

CREATE TABLE enrolment.registration (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id    text NOT NULL REFERENCES enrolment.student (id),
    term_code     text NOT NULL REFERENCES enrolment.term (code),
    enrolment_ids bigint[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO enrolment.student (id, name)
SELECT 'EST' || lpad(g::text, 3, '0'), (ARRAY['Ana Pérez', 'Bruno Díaz', 'Carla Ruiz', 'Diego León'])[1 + g % 4]
FROM generate_series(1, 200) AS g;

INSERT INTO enrolment.term (code, open) VALUES ('2024-1', false), ('2024-2', true);

INSERT INTO enrolment.course_group (code, term_code, course, capacity) VALUES
    ('G-ELC102-E', '2024-2', 'ELC102 Circuits', 1000),
    ('G-ELC106-E', '2024-2', 'ELC106 Signals', 1000),
    ('G-MAT201-A', '2024-2', 'MAT201 Calculus II', 1000),
    ('G-FIS100-A', '2024-2', 'FIS100 Physics (full)', 0),
    ('G-ELC102-OLD', '2024-1', 'ELC102 Circuits (last term)', 30);

-- One seat in `p_group` for the student, in one statement's transaction: the student and the term
-- must exist, the term be open, the group belong to it and have a seat left; P0001 (422) otherwise.
CREATE FUNCTION enrolment.enrol(p_student text, p_term text, p_group text)
RETURNS TABLE (enrolment_id bigint, student_id text, group_code text, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = enrolment, pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM enrolment.student s WHERE s.id = p_student) THEN
        RAISE EXCEPTION 'student % does not exist', p_student;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM enrolment.term t WHERE t.code = p_term AND t.open) THEN
        RAISE EXCEPTION 'term % is not open for enrolment', p_term;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM enrolment.course_group g WHERE g.code = p_group AND g.term_code = p_term) THEN
        RAISE EXCEPTION 'group % is not offered in term %', p_group, p_term;
    END IF;
    IF EXISTS (SELECT 1 FROM enrolment.enrolment e
               WHERE e.student_id = p_student AND e.group_code = p_group AND e.status = 'active') THEN
        RAISE EXCEPTION 'student % is already enrolled in %', p_student, p_group;
    END IF;
    UPDATE enrolment.course_group g SET enrolled = g.enrolled + 1
    WHERE g.code = p_group AND g.enrolled < g.capacity;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'group % is full', p_group;
    END IF;
    INSERT INTO enrolment.enrolment (student_id, group_code) VALUES (p_student, p_group) RETURNING id INTO new_id;
    RETURN QUERY SELECT e.id, e.student_id, e.group_code, e.status FROM enrolment.enrolment e WHERE e.id = new_id;
END $$;

-- Gives the seat back. Idempotent (a compensation may be retried): cancelling a cancelled
-- enrolment changes nothing and answers the same row.
CREATE FUNCTION enrolment.cancel_enrolment(p_enrolment_id bigint)
RETURNS TABLE (enrolment_id bigint, student_id text, group_code text, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = enrolment, pg_catalog, pg_temp AS $$
DECLARE
    seat text;
BEGIN
    UPDATE enrolment.enrolment e SET status = 'cancelled', cancelled_at = now()
    WHERE e.id = p_enrolment_id AND e.status = 'active'
    RETURNING e.group_code INTO seat;
    IF FOUND THEN
        UPDATE enrolment.course_group g SET enrolled = g.enrolled - 1 WHERE g.code = seat;
    ELSIF NOT EXISTS (SELECT 1 FROM enrolment.enrolment e WHERE e.id = p_enrolment_id) THEN
        RAISE EXCEPTION 'enrolment % does not exist', p_enrolment_id;
    END IF;
    RETURN QUERY SELECT e.id, e.student_id, e.group_code, e.status FROM enrolment.enrolment e
    WHERE e.id = p_enrolment_id;
END $$;

-- The term's registration of a student: the two enrolments the saga made, both active.
CREATE FUNCTION enrolment.record_registration(
    p_student text, p_term text, p_first_enrolment bigint, p_second_enrolment bigint)
RETURNS TABLE (registration_id bigint, student_id text, term_code text, enrolment_ids bigint[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = enrolment, pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
BEGIN
    IF (SELECT count(*) FROM enrolment.enrolment e
        WHERE e.id IN (p_first_enrolment, p_second_enrolment) AND e.student_id = p_student
          AND e.status = 'active') <> 2 THEN
        RAISE EXCEPTION 'the enrolments of a registration must be two active ones of student %', p_student;
    END IF;
    INSERT INTO enrolment.registration (student_id, term_code, enrolment_ids)
    VALUES (p_student, p_term, ARRAY[p_first_enrolment, p_second_enrolment]) RETURNING id INTO new_id;
    RETURN QUERY SELECT r.id, r.student_id, r.term_code, r.enrolment_ids FROM enrolment.registration r
    WHERE r.id = new_id;
END $$;

-- A student's active enrolments in a term, in group order.
CREATE FUNCTION enrolment.student_enrolments(p_student text, p_term text)
RETURNS TABLE (enrolment_id bigint, group_code text, course text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = enrolment, pg_catalog, pg_temp AS $$
    SELECT e.id, e.group_code, g.course, e.created_at
    FROM enrolment.enrolment e JOIN enrolment.course_group g ON g.code = e.group_code
    WHERE e.student_id = p_student AND g.term_code = p_term AND e.status = 'active'
    ORDER BY e.group_code
$$;

COMMIT;
