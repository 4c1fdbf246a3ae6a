"""Seed 002 as configuration: the consolidated dashboard (examples/flow-002-dashboard.json) reads
four databases at once through nginx and the pool. With one database unavailable the answer is
partial and names the failed member; with the required one (sales) unavailable the call fails
with that member's error. Every member execution is linked to its parent.
"""

from __future__ import annotations

import json
import time

import requests

from e2e_support import wait_for

BODY = {"p_since": "2026-02-01"}
MEMBERS = {"sales", "inventory", "customers", "tickets"}


def dashboard(spo, headers=None) -> requests.Response:
    return requests.post(spo.url("/api/services/dashboard/execute"), json=BODY, headers=headers or {}, timeout=10)


def close_database(spo, database: str):
    """Refuses new connections to `database` and ends the ones open (every worker's)."""
    spo.psql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false", db="postgres")
    spo.psql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{database}'",
             db="postgres")


def open_database(spo, database: str):
    spo.psql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true", db="postgres")


def test_the_dashboard_consolidates_four_databases(spo):
    started = time.monotonic()
    reply = dashboard(spo)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body["data"]) == MEMBERS
    assert body["meta"]["partial"] is False
    assert {name: meta["status"] for name, meta in body["meta"]["members"].items()} == dict.fromkeys(
        MEMBERS, "succeeded")
    expected_sales = json.loads(spo.psql(
        "SELECT json_agg(s) FROM sales.summary('2026-02-01') s", db="dash_sales"))
    assert body["data"]["sales"] == expected_sales
    expected_stock = spo.psql("SELECT count(*) FROM inventory.low_stock()", db="dash_inventory")
    assert len(body["data"]["inventory"]) == int(expected_stock) > 0
    expected_tickets = spo.psql(
        "SELECT string_agg(priority || ':' || tickets, ',') FROM support.open_tickets()", db="dash_support")
    assert ",".join(f"{row['priority']}:{row['tickets']}" for row in body["data"]["tickets"]) == expected_tickets.strip()
    assert len(body["data"]["tickets"]) == 4
    assert time.monotonic() - started < 5

    admin = requests.get(spo.url(f"/api/executions/{body['execution_id']}"), timeout=10)
    assert admin.status_code == 200, admin.text
    listed = {member["member"]: member for member in admin.json()["members"]}
    assert set(listed) == MEMBERS
    assert {member["execution_id"] for member in listed.values()} == {
        meta["execution_id"] for meta in body["meta"]["members"].values()}
    rows = spo.psql(
        f"SELECT count(*) FROM spo.service_execution WHERE parent_execution_id = '{body['execution_id']}'")
    assert rows.strip() == "4"


def test_a_stopped_optional_database_gives_a_partial_answer_naming_it(spo):
    close_database(spo, "dash_support")
    try:
        reply = dashboard(spo)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["meta"]["partial"] is True
        tickets = body["meta"]["members"]["tickets"]
        assert tickets["status"] == "failed"
        assert tickets["error"]["code"] in {"DB_CONNECTION_FAILED", "SP_EXECUTION_FAILED"}
        assert body["data"]["tickets"] is None
        assert body["data"]["sales"] and body["meta"]["members"]["sales"]["status"] == "succeeded"
    finally:
        open_database(spo, "dash_support")
    wait_for(lambda: dashboard(spo).json().get("meta", {}).get("partial") is False, 30, interval=0.2,
             message="the dashboard to be whole again")


def test_a_stopped_required_database_fails_the_call_naming_the_member(spo):
    close_database(spo, "dash_sales")
    try:
        reply = dashboard(spo)
        assert reply.status_code in {502, 503}, reply.text
        error = reply.json()["error"]
        assert "member sales" in error["message"]
        naming = [detail for detail in error["details"] if detail.get("member")]
        assert naming and naming[0]["member"] == "sales"
        assert naming[0]["meta"]["members"]["tickets"]["status"] == "succeeded"
    finally:
        open_database(spo, "dash_sales")


def test_openapi_describes_the_dashboard_from_its_members(spo):
    document = requests.get(spo.url("/api/openapi.json"), timeout=10).json()
    operation = document["paths"]["/api/services/dashboard/execute"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    assert request["required"] == ["p_since"]
    assert request["properties"]["p_since"]["format"] == "date"
    success = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(success["properties"]["data"]["properties"]) == MEMBERS
    assert set(success["properties"]["meta"]["properties"]["members"]["properties"]) == MEMBERS
