"""Seed 001's create-and-confirm order flow (examples/orders.sql + examples/flow-001-orders.json),
loaded by the dev instance, through nginx: customer check, an order whose items decrement stock
in one transaction, a confirm that requires an Idempotency-Key and confirms nothing twice, and an
order short of stock that changes nothing."""

from __future__ import annotations

import uuid

import pytest


def rows(spo, sql: str) -> list[list[str]]:
    return [line.split("|") for line in spo.psql(sql, db="orders").splitlines() if line]


@pytest.fixture
def products(spo):
    """Two products of this test's own (so other runs' orders do not change their stock)."""
    base = 1000 + uuid.uuid4().int % 1_000_000 * 2
    spo.psql(f"INSERT INTO orders.product (id, sku, name, price, stock) VALUES"
             f" ({base}, 'T-{base}', 'Test part A', 10.00, 5), ({base + 1}, 'T-{base + 1}', 'Test part B', 2.50, 1)",
             db="orders")
    return base, base + 1


def stock(spo, *ids: int) -> list[int]:
    return [int(r[0]) for r in rows(spo, f"SELECT stock FROM orders.product WHERE id IN ({','.join(map(str, ids))})"
                                         " ORDER BY id")]


def test_the_customer_check_answers_the_customer_or_422(spo):
    found = spo.execute("order_check_customer", {"p_customer_id": 1})
    assert found.status_code == 200, found.text
    assert found.json()["data"] == [{"customer_id": 1, "name": "ACME Corporation", "email": "ops@acme.example"}]
    for customer, reason in [(999, "does not exist"), (3, "is not active")]:
        refused = spo.execute("order_check_customer", {"p_customer_id": customer})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "SP_EXECUTION_FAILED"
        assert reason in refused.json()["error"]["details"][0]["message"]


def test_create_then_confirm_once_and_a_replayed_confirm_confirms_nothing_twice(spo, products):
    a, b = products
    created = spo.execute("order_create", {"p_customer_id": 1,
                                           "p_items": [{"product_id": a, "qty": 2}, {"product_id": b, "qty": 1},
                                                       {"product_id": a, "qty": 1}]})
    assert created.status_code == 200, created.text
    order = created.json()["data"][0]
    assert order["status"] == "created" and order["customer_id"] == 1
    assert order["total"] == 32.5  # 3 × 10.00 + 1 × 2.50
    assert order["items"] == [{"product_id": a, "qty": 3, "unit_price": 10.00},
                              {"product_id": b, "qty": 1, "unit_price": 2.50}]
    assert stock(spo, a, b) == [2, 0]

    # The confirm requires a key: without one nothing runs.
    keyless = spo.execute("order_confirm", {"p_order_id": order["order_id"]})
    assert keyless.status_code == 400 and keyless.json()["error"]["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert rows(spo, f"SELECT status FROM orders.\"order\" WHERE id = {order['order_id']}") == [["created"]]

    key = f"confirm-{uuid.uuid4()}"
    first = spo.execute("order_confirm", {"p_order_id": order["order_id"]}, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert first.json()["data"][0]["status"] == "confirmed"
    replay = spo.execute("order_confirm", {"p_order_id": order["order_id"]}, headers={"Idempotency-Key": key})
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()
    assert replay.headers["X-Execution-ID"] == first.headers["X-Execution-ID"]
    # The rows: one confirmation, whatever the client repeated.
    events = rows(spo, f"SELECT event FROM orders.order_event WHERE order_id = {order['order_id']} ORDER BY id")
    assert events == [["created"], ["confirmed"]]
    # A new key runs it again, and the procedure itself refuses a second confirmation.
    again = spo.execute("order_confirm", {"p_order_id": order["order_id"]},
                        headers={"Idempotency-Key": f"confirm-{uuid.uuid4()}"})
    assert again.status_code == 422 and "confirmed already" in again.json()["error"]["details"][0]["message"]
    assert len(rows(spo, f"SELECT 1 FROM orders.order_event WHERE order_id = {order['order_id']}"
                         " AND event = 'confirmed'")) == 1

    got = spo.execute("order_get", {"p_order_id": order["order_id"]})
    assert got.status_code == 200 and got.json()["data"][0]["status"] == "confirmed"


def test_an_item_short_of_stock_orders_nothing(spo, products):
    a, b = products
    orders_before = rows(spo, "SELECT count(*), coalesce(max(id), 0) FROM orders.\"order\"")
    items_before = rows(spo, "SELECT count(*) FROM orders.order_item")
    short = spo.execute("order_create", {"p_customer_id": 2,
                                         "p_items": [{"product_id": a, "qty": 4}, {"product_id": b, "qty": 2}]})
    assert short.status_code == 422, short.text
    assert f"insufficient stock for product {b}" in short.json()["error"]["details"][0]["message"]
    # The first item's stock was decremented inside the call, and rolled back with it.
    assert stock(spo, a, b) == [5, 1]
    assert rows(spo, "SELECT count(*), coalesce(max(id), 0) FROM orders.\"order\"")[0][0] == orders_before[0][0]
    assert rows(spo, "SELECT count(*) FROM orders.order_item") == items_before
    unknown = spo.execute("order_create", {"p_customer_id": 1, "p_items": [{"product_id": a, "qty": 1},
                                                                           {"product_id": 999_999_999, "qty": 1}]})
    assert unknown.status_code == 422 and "does not exist" in unknown.json()["error"]["details"][0]["message"]
    bad = spo.execute("order_create", {"p_customer_id": 1, "p_items": []})
    assert bad.status_code == 422
    assert stock(spo, a, b) == [5, 1]
