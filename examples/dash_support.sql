-- Seed 002: the support-tickets database of the consolidated dashboard.
-- The services' role may only EXECUTE (README: Least privilege): each function runs as the
-- schema's owner (SECURITY DEFINER), with its search_path pinned to support and the catalog.
CREATE SCHEMA support;
CREATE TABLE support.ticket (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject   text NOT NULL,
    priority  text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status    text NOT NULL CHECK (status IN ('open', 'pending', 'closed')),
    opened_at timestamptz NOT NULL
);
INSERT INTO support.ticket (subject, priority, status, opened_at)
SELECT 'Ticket ' || n, (ARRAY['low', 'normal', 'high', 'urgent'])[1 + n % 4],
       (ARRAY['open', 'pending', 'closed'])[1 + n % 3], timestamptz '2026-01-01' + n * interval '7 hours'
FROM generate_series(1, 300) AS n;

-- Tickets not closed, by priority.
CREATE FUNCTION support.open_tickets()
RETURNS TABLE (priority text, tickets bigint, oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = support, pg_catalog, pg_temp AS $$
    SELECT priority, count(*), min(opened_at) FROM support.ticket WHERE status <> 'closed'
    GROUP BY priority ORDER BY array_position(ARRAY['urgent', 'high', 'normal', 'low'], priority)
$$;
