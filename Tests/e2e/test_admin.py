"""Read-only administration through nginx: configuration, executions, errors and the health of the
target connections, for admin keys only (the suite's requests carry the instance's admin key)."""
from __future__ import annotations

import datetime
import uuid

import pytest
import requests

from e2e_support import SECURITY_HEADERS, UUID_RE, correlation_id, wait_for

SERVICE_KEYS = {"id", "name", "description", "kind", "connection", "procedure", "parameters", "timeout_ms",
                "retry_policy", "enabled", "idempotent", "result_shape", "version", "idempotency", "idempotency_ttl_s",
                "public"}
# A composite has no connection, routine or result shape of its own: its members or steps (and is
# never public: README, Composite services).
COMPOSITE_KEYS = {
    "parallel": SERVICE_KEYS - {"connection", "procedure", "result_shape", "retry_policy", "public"} | {"members"},
    "saga": SERVICE_KEYS - {"connection", "procedure", "result_shape", "idempotent", "public"} | {"steps"},
}
SUMMARY_KEYS = {"id", "service", "status", "http_status", "error_code", "attempts", "duration_ms", "user",
                "correlation_id", "reprocess_of", "started_at", "finished_at"}


def get(spo, path: str, params=None, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", 30)
    return requests.get(spo.url(path), params=params, **kwargs)


def ok(response: requests.Response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))
    return response.json()


def error_of(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "reference", "details"}, error
    assert error["code"] == code, error
    assert UUID_RE.match(error["reference"]), error
    return error


def psql_ids(spo, condition: str) -> list[str]:
    rows = spo.psql(f"SELECT id FROM spo.service_execution WHERE {condition} ORDER BY id DESC")
    return [line for line in rows.split() if line]


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def test_services(spo):
    listing = ok(get(spo, "/api/services"))
    assert set(listing) == {"items"}
    names = [item["name"] for item in listing["items"]]
    assert names == sorted(names) and {"customer_get", "flaky", "transfer"} <= set(names)
    for item in listing["items"]:
        # `errors` only when the service maps SQLSTATEs to statuses.
        assert set(item) - {"errors"} == COMPOSITE_KEYS.get(item["kind"], SERVICE_KEYS), item
    assert {item["kind"] for item in listing["items"]} == {"procedure", "parallel", "saga"}
    one = ok(get(spo, "/api/services/customer_get"))
    assert one == next(item for item in listing["items"] if item["name"] == "customer_get")
    assert one["procedure"] == "demo.get_customer" and one["result_shape"] == "set" and one["connection"] == "demo"
    assert one["parameters"][0]["name"] == "p_id" and one["parameters"][0]["type"] == "integer"
    assert isinstance(one["id"], int) and isinstance(one["version"], int)

    # Filters: name or description, case-insensitive; enabled. requests encodes the space.
    assert [s["name"] for s in ok(get(spo, "/api/services", {"search": "Serialization Failure"}))["items"]] == ["flaky"]
    found = [s["name"] for s in ok(get(spo, "/api/services", {"search": "CUSTOMER_"}))["items"]]
    # The example flows add services of their own (seed 002's customer_signups).
    assert found == sorted(item["name"] for item in listing["items"]
                           if "customer_" in (item["name"] + item["description"]).lower())
    assert {"customer_count", "customer_get", "customer_search"} <= set(found)
    enabled = ok(get(spo, "/api/services", {"enabled": "true"}))["items"]
    disabled = ok(get(spo, "/api/services", {"enabled": "false"}))["items"]
    assert all(s["enabled"] for s in enabled) and not any(s["enabled"] for s in disabled)
    assert sorted(s["name"] for s in enabled + disabled) == names
    assert len(ok(get(spo, "/api/services", {"search": ""}))["items"]) == len(names)

    error = error_of(get(spo, "/api/services", {"enabled": "maybe"}), 400, "INVALID_PARAMETERS")
    assert [d["parameter"] for d in error["details"]] == ["enabled"]
    error_of(get(spo, "/api/services/no_such_service"), 404, "SERVICE_NOT_FOUND")
    # An entry takes GET, PUT and DELETE, not PATCH.
    response = requests.patch(spo.url("/api/services/customer_get"), json={}, timeout=30)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "GET, HEAD, PUT, DELETE"


def test_connections_and_retry_policies(spo):
    connections = ok(get(spo, "/api/connections"))["items"]
    demo = next(c for c in connections if c["name"] == "demo")
    assert set(demo) == {"name", "conninfo", "password_from", "description", "breaker", "breaker_state"}
    assert demo["breaker"]["failure_rate_threshold"] == 50 and demo["breaker_state"]["state"] == "closed"
    assert "dbname=" in demo["conninfo"]
    assert ok(get(spo, "/api/connections/demo")) == demo
    for connection in connections:
        assert "password=" not in connection["conninfo"].lower()
        assert connection["password_from"] is None or connection["password_from"].startswith(("env:", "file:", "pgpass"))
    error_of(get(spo, "/api/connections/nope"), 404, "NOT_FOUND")

    policies = ok(get(spo, "/api/retry-policies"))["items"]
    assert [p["name"] for p in policies] == sorted(p["name"] for p in policies)
    default = ok(get(spo, "/api/retry-policies/default"))
    assert default in policies
    assert default["max_attempts"] == 3 and "40001" in default["retryable_sqlstates"]
    error_of(get(spo, "/api/retry-policies/nope"), 404, "NOT_FOUND")


def test_executions_list_filters_and_pages(spo):
    since = utc_now()
    trace = correlation_id()
    ids = []
    for n in range(5):
        response = spo.execute("customer_get", {"p_id": n + 1}, headers={"X-Correlation-ID": trace})
        assert response.status_code == 200, response.text
        ids.append(response.json()["execution_id"])
    rejected = spo.execute("customer_get", {"p_id": 0})
    assert rejected.status_code == 400
    ids.append(rejected.headers["X-Execution-ID"])

    mine = {"service": "customer_get", "since": since}
    page = ok(get(spo, "/api/executions", mine))
    assert set(page) == {"items", "next_cursor"} and page["next_cursor"] is None
    assert sorted(item["id"] for item in page["items"]) == sorted(ids)
    assert [item["id"] for item in page["items"]] == psql_ids(
        spo, f"service_name = 'customer_get' AND started_at >= '{since}'")
    for item in page["items"]:
        assert set(item) == SUMMARY_KEYS, item
    newest = next(item for item in page["items"] if item["id"] == ids[-1])
    assert newest["status"] == "rejected" and newest["error_code"] == "INVALID_PARAMETERS"
    assert {i["correlation_id"] for i in page["items"] if i["status"] == "succeeded"} == {trace}

    only_rejected = ok(get(spo, "/api/executions", {**mine, "status": "rejected"}))["items"]
    assert [i["id"] for i in only_rejected] == [ids[-1]]
    assert ok(get(spo, "/api/executions", {**mine, "until": since}))["items"] == []

    # Pages of 2, following next_cursor: every execution once, newest first.
    walked, cursor, pages = [], None, 0
    while True:
        params = {**mine, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(get(spo, "/api/executions", params))
        walked += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == page["items"][-1]["id"] and len(page["items"]) == 2
    assert walked == [item["id"] for item in ok(get(spo, "/api/executions", mine))["items"]]
    assert sorted(walked) == sorted(ids) and pages == 3

    for params, named in (({"status": "bad"}, {"status"}), ({"limit": 0}, {"limit"}), ({"limit": 501}, {"limit"}),
                          ({"cursor": "xyz"}, {"cursor"}), ({"since": "yesterday"}, {"since"}),
                          ({"foo": "1"}, {"foo"}), ({"status": "bad", "limit": "x"}, {"status", "limit"})):
        error = error_of(get(spo, "/api/executions", params), 400, "INVALID_PARAMETERS")
        assert {d["parameter"] for d in error["details"]} == named, (params, error)


def test_execution_detail_and_errors(spo):
    retried = spo.execute("flaky", {"p_key": "e2e-" + uuid.uuid4().hex, "p_failures": 2})
    assert retried.status_code == 200, retried.text
    detail = ok(get(spo, f"/api/executions/{retried.json()['execution_id']}"))
    assert detail["status"] == "succeeded" and detail["attempts"] == 3
    log = detail["attempt_log"]
    assert [a["attempt"] for a in log] == [1, 2, 3]
    assert [a["outcome"] for a in log] == ["failed", "failed", "succeeded"]
    assert [a["sqlstate"] for a in log] == ["40001", "40001", None]
    assert {a["worker_pid"] for a in log} <= set(spo.workers().values()), log
    assert detail["errors"] == [] and detail["reprocessed_as"] == [] and detail["reprocessing_of"] is None

    failed = spo.execute("business_failure", {"p_code": "E777"})
    reply_error = error_of(failed, 422, "SP_EXECUTION_FAILED")
    execution_id = failed.headers["X-Execution-ID"]
    detail = ok(get(spo, f"/api/executions/{execution_id}"))
    assert detail["status"] == "failed" and detail["http_status"] == 422
    assert [e["code"] for e in detail["errors"]] == ["SP_EXECUTION_FAILED"]
    assert detail["errors"][0]["reference"] == reply_error["reference"]

    stored = ok(get(spo, f"/api/errors/{reply_error['reference']}"))
    assert stored["reference"] == reply_error["reference"] and stored["execution_id"] == execution_id
    assert stored["code"] == "SP_EXECUTION_FAILED" and stored["sqlstate"] == "P0001"
    assert stored["message"] == reply_error["message"] and stored["detail"] == reply_error["details"]

    for path in (f"/api/executions/{uuid.uuid4()}", "/api/executions/not-an-id", f"/api/errors/{uuid.uuid4()}",
                 "/api/errors/nope", "/api/executions/%EF%BC%90" + execution_id[1:]):
        error_of(get(spo, path), 404, "NOT_FOUND")


def test_health_of_services(spo):
    items = ok(get(spo, "/api/health/services"))["items"]
    demo = next(item for item in items if item["connection"] == "demo")
    assert demo["reachable"] is True, demo
    assert isinstance(demo["latency_ms"], (int, float)) and 0 <= demo["latency_ms"] < 2000, demo
    assert "error" not in demo


@pytest.mark.parametrize("path", ["/api/services", "/api/executions", "/api/health/services"])
def test_administration_needs_an_admin_key(spo, path):
    name = f"executor-{uuid.uuid4().hex[:6]}"
    key = spo.spo("keys", "create", "--name", name, "--role", "executor", "--grant", "*",
                  "--control", spo.env["SPO_CONTROL_DB"]).stdout.strip()
    assert key.startswith("spo_"), key
    # The key works for what it is for (once the workers have it)...
    wait_for(lambda: spo.execute("customer_count", headers={"Authorization": f"Bearer {key}"}).status_code == 200,
             timeout=5, interval=0.05, message="the new key to be accepted")
    # ...not for administration.
    forbidden = get(spo, path, headers={"Authorization": f"Bearer {key}"})
    assert name in error_of(forbidden, 403, "FORBIDDEN")["message"]
    anonymous = get(spo, path, headers={"Authorization": ""})
    error_of(anonymous, 401, "UNAUTHORIZED")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    error_of(get(spo, path, headers={"Authorization": "Bearer spo_00000000_" + "0" * 32}), 401, "UNAUTHORIZED")
