-- Seed 002: the inventory database of the consolidated dashboard.
-- The services' role may only EXECUTE (README: Least privilege): each function runs as the
-- schema's owner (SECURITY DEFINER), with its search_path pinned to inventory and the catalog.
CREATE SCHEMA inventory;
CREATE TABLE inventory.stock (
    sku       text PRIMARY KEY,
    name      text NOT NULL,
    on_hand   int NOT NULL CHECK (on_hand >= 0),
    reorder_at int NOT NULL
);
INSERT INTO inventory.stock VALUES
    ('EM-1', 'Espresso machine', 4, 5), ('GR-2', 'Grinder', 12, 6), ('BN-3', 'Beans 1 kg', 2, 40),
    ('FL-4', 'Paper filters', 300, 50), ('MK-5', 'Milk jug', 7, 8);

-- Items at or below their reorder point (or below p_threshold units, when given).
CREATE FUNCTION inventory.low_stock(p_threshold int DEFAULT NULL)
RETURNS TABLE (sku text, name text, on_hand int, reorder_at int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = inventory, pg_catalog, pg_temp AS $$
    SELECT sku, name, on_hand, reorder_at FROM inventory.stock
    WHERE on_hand <= coalesce(p_threshold, reorder_at) ORDER BY on_hand, sku
$$;
