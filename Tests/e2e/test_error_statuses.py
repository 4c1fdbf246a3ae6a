"""Whose fault an execution error is, through nginx: the status follows the SQLSTATE (with a
service's `errors` overrides, live on every worker), and detail/hint reach admin keys only."""
from __future__ import annotations

import time
import uuid

import requests

from e2e_support import wait_for


def _executor_key(spo) -> str:
    args = ["keys", "create", "--name", f"gateway-{uuid.uuid4().hex[:6]}", "--role", "executor", "--grant", "*",
            "--control", spo.env["SPO_CONTROL_DB"]]
    return spo.spo(*args).stdout.strip()


def test_a_business_error_is_422_with_detail_and_hint_for_admins_only(spo):
    gateway = spo.execute("business_failure", {"p_code": "E042"},
                          headers={"Authorization": f"Bearer {_executor_key(spo)}"})
    assert gateway.status_code == 422, gateway.text
    assert gateway.reason == "Unprocessable Entity"
    error = gateway.json()["error"]
    assert error["code"] == "SP_EXECUTION_FAILED"
    assert error["details"] == [{"sqlstate": "P0001", "message": "business rule violated: E042"}]

    admin = spo.execute("business_failure", {"p_code": "E042"})
    assert admin.status_code == 422
    detail = admin.json()["error"]["details"][0]
    assert detail["hint"] == "This service exists to test error reporting." and "E042" in detail["detail"]
    # The audit keeps them for the gateway's call too, and records the status answered.
    row = spo.psql("SELECT e.http_status, e.detail->0->>'hint', x.http_status FROM spo.service_error e "
                   f"JOIN spo.service_execution x ON x.id = e.execution_id WHERE e.reference = '{error['reference']}'")
    assert row.strip() == "422|This service exists to test error reporting.|422"


def _delete(spo, name: str):
    """Other tests expect the example services only."""
    assert requests.delete(spo.url(f"/api/services/{name}"), timeout=30).status_code == 204


def test_an_override_is_live_documented_and_refused_when_wrong(spo):
    name = f"strict_{uuid.uuid4().hex[:6]}"
    try:
        _override_is_live_documented_and_refused(spo, name)
    finally:
        _delete(spo, name)


def _override_is_live_documented_and_refused(spo, name: str):
    document = {"connection": "demo", "procedure": "demo.fail_business", "parameters": "discover",
                "errors": {"P0001": 409}}
    created = requests.put(spo.url(f"/api/services/{name}"), json=document, timeout=30)
    assert created.status_code in (200, 201), created.text
    assert created.json()["errors"] == {"P0001": 409}
    wait_for(lambda: spo.execute(name, {}).status_code == 409, timeout=1.0, message="the override on every worker")
    responses = requests.get(spo.url("/api/openapi.json"), timeout=30).json()["paths"][
        f"/api/services/{name}/execute"]["post"]["responses"]
    assert "409" in responses and "422" in responses  # class 22 still answers 422
    assert "SQLSTATE P0001" in responses["409"]["description"]

    refused = requests.put(spo.url(f"/api/services/{name}"), json={**document, "errors": {"P0001": 302}}, timeout=30)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"][0]["parameter"] == "service.errors.P0001"
    assert spo.execute(name, {}).status_code == 409


def test_a_pathological_pattern_answers_at_once_and_a_huge_array_gets_a_short_answer(spo):
    name = f"pattern_{uuid.uuid4().hex[:6]}"
    try:
        _pathological_pattern_and_huge_array(spo, name)
    finally:
        _delete(spo, name)


def _pathological_pattern_and_huge_array(spo, name: str):
    document = {"connection": "demo", "procedure": "demo.fail_business",
                "parameters": [{"name": "p_code", "type": "text", "pattern": "([a-z]+)+$"}]}
    assert requests.put(spo.url(f"/api/services/{name}"), json=document, timeout=30).status_code in (200, 201)
    wait_for(lambda: spo.execute(name, {"p_code": "!"}).status_code == 400, timeout=1.0, message="the service live")
    started = time.monotonic()
    response = spo.execute(name, {"p_code": "a" * 10_000 + "!"})
    took = time.monotonic() - started
    assert response.status_code == 400 and "must match pattern" in response.text
    assert took < 2.0, took  # a backtracking matcher takes minutes

    # Under the array limit (SPO_MAX_ARRAY_ITEMS), 9,000 bad elements: the answer lists 100.
    huge = spo.execute("echo_types", {"p_int_array": ["x"] * 9_000})
    assert huge.status_code == 400
    assert len(huge.content) < 20_000, len(huge.content)
    assert huge.json()["error"]["details"][-1]["problem"] == "8900 more problems not listed"
