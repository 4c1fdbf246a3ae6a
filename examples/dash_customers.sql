-- Seed 002: the customers database of the consolidated dashboard.
-- The services' role may only EXECUTE (README: Least privilege): each function runs as the
-- schema's owner (SECURITY DEFINER), with its search_path pinned to customers and the catalog.
CREATE SCHEMA customers;
CREATE TABLE customers.customer (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    country    text NOT NULL,
    signed_up  date NOT NULL
);
INSERT INTO customers.customer (name, country, signed_up)
SELECT 'Customer ' || n, (ARRAY['ES', 'MX', 'AR', 'CO'])[1 + n % 4], date '2025-10-01' + (n % 200)
FROM generate_series(1, 400) AS n;

-- Customers who signed up since a day, by country.
CREATE FUNCTION customers.signups(p_since date)
RETURNS TABLE (country text, customers bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = customers, pg_catalog, pg_temp AS $$
    SELECT country, count(*) FROM customers.customer WHERE signed_up >= p_since GROUP BY country ORDER BY country
$$;
