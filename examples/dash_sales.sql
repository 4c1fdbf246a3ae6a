-- Seed 002: the sales database of the consolidated dashboard (examples/flow-002-dashboard.json).
-- The services' role may only EXECUTE (README: Least privilege): each function runs as the
-- schema's owner (SECURITY DEFINER), with its search_path pinned to sales and the catalog.
CREATE SCHEMA sales;
CREATE TABLE sales.product (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL);
CREATE TABLE sales.sale (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product   int NOT NULL REFERENCES sales.product (id),
    quantity  int NOT NULL CHECK (quantity > 0),
    sold_on   date NOT NULL
);
INSERT INTO sales.product VALUES (1, 'Espresso machine', 249.00), (2, 'Grinder', 89.50), (3, 'Beans 1 kg', 18.90);
INSERT INTO sales.sale (product, quantity, sold_on)
SELECT 1 + (n % 3), 1 + (n % 4), date '2026-01-01' + (n % 120) FROM generate_series(1, 600) AS n;

-- Orders, units and revenue since a day, with the best-selling product.
CREATE FUNCTION sales.summary(p_since date)
RETURNS TABLE (orders bigint, units bigint, revenue numeric, top_product text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = sales, pg_catalog, pg_temp AS $$
    SELECT count(*), coalesce(sum(s.quantity), 0), coalesce(sum(s.quantity * p.price), 0),
           (SELECT p2.name FROM sales.sale s2 JOIN sales.product p2 ON p2.id = s2.product
            WHERE s2.sold_on >= p_since GROUP BY p2.name ORDER BY sum(s2.quantity) DESC, p2.name LIMIT 1)
    FROM sales.sale s JOIN sales.product p ON p.id = s.product
    WHERE s.sold_on >= p_since
$$;
