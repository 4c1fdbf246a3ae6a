-- The example database `orders` of seed 001 (B2B orders: create and confirm an order), loaded by
-- the dev instance (`spo dev`, `make run`) into database `orders`:
--
--     psql -v ON_ERROR_STOP=1 -d orders -f examples/orders.sql
--
-- examples/flow-001-orders.json exposes each function as a service:
--
--   function                      service                what it does
--   orders.check_customer         order_check_customer   the customer exists and is active, or P0001
--   orders.create_order           order_create           an order with its items; every item's stock is
--                                                        decremented in the same transaction, and one
--                                                        item short of stock fails the whole order
--   orders.confirm_order          order_confirm          created → confirmed (once: a second confirm is
--                                                        P0001); requires an Idempotency-Key
--   orders.get_order              order_get              the order with its items
--
-- Re-runnable (the schema is dropped and rebuilt) and deterministic. Plain SQL, no psql meta-commands.
-- The services' role may only EXECUTE (README: Least privilege): each function runs as the
-- schema's owner (SECURITY DEFINER), with its search_path pinned to orders and the catalog.

SET client_min_messages = warning;   -- why: keep "drop cascades to ..." notices out of the dev log

BEGIN;

DROP SCHEMA IF EXISTS orders CASCADE;
CREATE SCHEMA orders;
COMMENT ON SCHEMA orders IS 'Seed 001: customers, products with stock, orders and their items';

CREATE TABLE orders.customer (
    id     int PRIMARY KEY,
    name   text NOT NULL,
    email  text NOT NULL UNIQUE,
    phone  text,
    active boolean NOT NULL DEFAULT true
);

CREATE TABLE orders.product (
    id    int PRIMARY KEY,
    sku   text NOT NULL UNIQUE,
    name  text NOT NULL,
    price numeric(12,2) NOT NULL CHECK (price >= 0),
    -- why a CHECK as well as the function's own test: no code path may oversell.
    stock int NOT NULL CHECK (stock >= 0)
);

CREATE TABLE orders."order" (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  int NOT NULL REFERENCES orders.customer (id),
    status       text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'confirmed', 'cancelled')),
    total        numeric(14,2) NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz
);

CREATE TABLE orders.order_item (
    order_id   bigint NOT NULL REFERENCES orders."order" (id),
    product_id int NOT NULL REFERENCES orders.product (id),
    qty        int NOT NULL CHECK (qty > 0),
    unit_price numeric(12,2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- One row per state change: a confirm that ran twice would show as two 'confirmed' rows.
CREATE TABLE orders.order_event (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders."order" (id),
    event    text NOT NULL CHECK (event IN ('created', 'confirmed')),
    at       timestamptz NOT NULL DEFAULT clock_timestamp()
);

INSERT INTO orders.customer (id, name, email, phone, active) VALUES
    (1, 'ACME Corporation', 'ops@acme.example', '+1234567890', true),
    (2, 'Globex', 'buyers@globex.example', NULL, true),
    (3, 'Initech (closed)', 'ap@initech.example', NULL, false);

INSERT INTO orders.product (id, sku, name, price, stock) VALUES
    (1, 'BOLT-M8', 'Bolt M8 (box of 100)', 12.50, 500),
    (2, 'NUT-M8', 'Nut M8 (box of 100)', 7.25, 300),
    (3, 'GEAR-42', 'Gear, 42 teeth', 129.00, 5),
    (4, 'PUMP-X1', 'Hydraulic pump X1', 2490.00, 0);

-- The customer, if it may order: unknown and inactive customers are refused (P0001 → 422).
CREATE FUNCTION orders.check_customer(p_customer_id int)
RETURNS TABLE (customer_id int, name text, email text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = orders, pg_catalog, pg_temp AS $$
DECLARE
    customer_row orders.customer;
BEGIN
    SELECT * INTO customer_row FROM orders.customer c WHERE c.id = p_customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'customer % does not exist', p_customer_id;
    END IF;
    IF NOT customer_row.active THEN
        RAISE EXCEPTION 'customer % is not active', p_customer_id;
    END IF;
    RETURN QUERY SELECT customer_row.id, customer_row.name, customer_row.email;
END $$;

-- An order of `p_items` ([{"product_id": 1, "qty": 2}, …]) for an active customer. The call is one
-- transaction: every item's stock is decremented, or — one product missing or short of stock —
-- the exception undoes all of it and nothing is ordered.
CREATE FUNCTION orders.create_order(p_customer_id int, p_items jsonb)
RETURNS TABLE (order_id bigint, customer_id int, status text, total numeric, items jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = orders, pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
    item record;
    price numeric;
BEGIN
    PERFORM orders.check_customer(p_customer_id);
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0 THEN
        RAISE EXCEPTION 'p_items must be a non-empty array of {"product_id", "qty"}';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) e
               WHERE jsonb_typeof(e -> 'product_id') IS DISTINCT FROM 'number'
                  OR jsonb_typeof(e -> 'qty') IS DISTINCT FROM 'number'
                  OR (e ->> 'qty')::numeric <= 0 OR (e ->> 'qty')::numeric <> trunc((e ->> 'qty')::numeric)) THEN
        RAISE EXCEPTION 'each item needs a numeric product_id and a positive whole qty';
    END IF;
    INSERT INTO orders."order" (customer_id) VALUES (p_customer_id) RETURNING id INTO new_id;
    -- why in product order, with duplicates summed: two orders sharing products lock their rows in
    -- the same order, so they wait for each other instead of deadlocking.
    FOR item IN
        SELECT (e ->> 'product_id')::int AS product_id, sum((e ->> 'qty')::int)::int AS qty
        FROM jsonb_array_elements(p_items) e GROUP BY 1 ORDER BY 1
    LOOP
        UPDATE orders.product p SET stock = p.stock - item.qty
        WHERE p.id = item.product_id AND p.stock >= item.qty
        RETURNING p.price INTO price;
        IF NOT FOUND THEN
            IF NOT EXISTS (SELECT 1 FROM orders.product p WHERE p.id = item.product_id) THEN
                RAISE EXCEPTION 'product % does not exist', item.product_id;
            END IF;
            RAISE EXCEPTION 'insufficient stock for product %: % asked, % left', item.product_id, item.qty,
                (SELECT p.stock FROM orders.product p WHERE p.id = item.product_id);
        END IF;
        INSERT INTO orders.order_item (order_id, product_id, qty, unit_price)
        VALUES (new_id, item.product_id, item.qty, price);
    END LOOP;
    UPDATE orders."order" o SET total = (SELECT sum(i.qty * i.unit_price) FROM orders.order_item i
                                         WHERE i.order_id = new_id)
    WHERE o.id = new_id;
    INSERT INTO orders.order_event (order_id, event) VALUES (new_id, 'created');
    RETURN QUERY SELECT * FROM orders.get_order(new_id);
END $$;

-- Confirms a created order, once: confirming it again raises (P0001 → 422), so only an
-- Idempotency-Key replay (which does not run it) answers a repeat with success.
CREATE FUNCTION orders.confirm_order(p_order_id bigint)
RETURNS TABLE (order_id bigint, customer_id int, status text, total numeric, items jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = orders, pg_catalog, pg_temp AS $$
DECLARE
    current_status text;
BEGIN
    UPDATE orders."order" o SET status = 'confirmed', confirmed_at = now()
    WHERE o.id = p_order_id AND o.status = 'created';
    IF NOT FOUND THEN
        SELECT o.status INTO current_status FROM orders."order" o WHERE o.id = p_order_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'order % does not exist', p_order_id;
        END IF;
        RAISE EXCEPTION 'order % is % already', p_order_id, current_status;
    END IF;
    INSERT INTO orders.order_event (order_id, event) VALUES (p_order_id, 'confirmed');
    RETURN QUERY SELECT * FROM orders.get_order(p_order_id);
END $$;

-- The order with its items (an empty set when there is none).
CREATE FUNCTION orders.get_order(p_order_id bigint)
RETURNS TABLE (order_id bigint, customer_id int, status text, total numeric, items jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = orders, pg_catalog, pg_temp AS $$
    SELECT o.id, o.customer_id, o.status, o.total,
           coalesce((SELECT jsonb_agg(jsonb_build_object('product_id', i.product_id, 'qty', i.qty,
                                                         'unit_price', i.unit_price) ORDER BY i.product_id)
                     FROM orders.order_item i WHERE i.order_id = o.id), '[]')
    FROM orders."order" o WHERE o.id = p_order_id
$$;

COMMIT;
