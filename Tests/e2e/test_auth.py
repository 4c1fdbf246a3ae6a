"""API keys through the real stack: the local instance has an admin key, so every call needs one."""
from __future__ import annotations

import time
import uuid

import requests

from e2e_support import wait_for


def _create_key(spo, name: str, *grants: str, role: str = "executor") -> str:
    args = ["keys", "create", "--name", name, "--role", role, "--control", spo.env["SPO_CONTROL_DB"]]
    for grant in grants:
        args += ["--grant", grant]
    key = spo.spo(*args).stdout.strip()
    assert key.startswith("spo_") and len(key) == 45, key
    return key


def _post(spo, service: str, key: str | None, body=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {"Authorization": ""}
    return requests.post(spo.url(f"/api/services/{service}/execute"), json=body or {}, headers=headers, timeout=30)


def test_calls_without_a_valid_key_are_refused(spo):
    for key, expected in ((None, "send an API key"), ("spo_00000000_" + "0" * 32, "not valid"), ("nonsense", "not valid")):
        response = _post(spo, "customer_get", key, {"p_id": 1})
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["code"] == "UNAUTHORIZED" and expected in error["message"]
        row = spo.psql(f"SELECT code FROM spo.service_error WHERE reference = '{error['reference']}'").strip()
        assert row == "UNAUTHORIZED"
    # Liveness stays public for load balancers and probes.
    assert requests.get(spo.url("/api/health"), headers={"Authorization": ""}, timeout=30).status_code == 200


def test_executor_keys_run_granted_services_only_and_are_the_audit_user(spo):
    name = f"reporting-{uuid.uuid4().hex[:6]}"
    key = _create_key(spo, name, "customer_count")
    allowed = _post(spo, "customer_count", key)
    assert allowed.status_code == 200, allowed.text
    execution = allowed.json()["execution_id"]
    assert spo.psql(f"SELECT user_name FROM spo.service_execution WHERE id = '{execution}'").strip() == name
    denied = _post(spo, "customer_get", key, {"p_id": 1})
    assert denied.status_code == 403, denied.text
    assert denied.json()["error"]["code"] == "FORBIDDEN"
    # Not granted is answered the same whether the service exists or not.
    assert _post(spo, "no_such_service", key).status_code == 403


def test_a_new_key_works_at_once_on_every_worker(spo, pool):
    # Asked before any worker could have reloaded its snapshot: each looks the unknown key up.
    key = _create_key(spo, f"fresh-{uuid.uuid4().hex[:6]}", "customer_count")
    for slot in sorted(pool.workers()):
        response = pool.execute_on(slot, "customer_count", headers={"Authorization": f"Bearer {key}"})
        assert response.status == 200, (slot, response.body[:300])
        denied = pool.execute_on(slot, "customer_get", {"p_id": 1}, headers={"Authorization": f"Bearer {key}"})
        assert denied.status == 403, (slot, denied.body[:300])


def test_revocation_reaches_every_worker_within_a_second(spo, pool):
    name = f"revoked-{uuid.uuid4().hex[:6]}"
    key = _create_key(spo, name, "*")
    slots = sorted(pool.workers())
    assert all(pool.execute_on(slot, "customer_count", headers={"Authorization": f"Bearer {key}"}).status == 200
               for slot in slots)
    spo.spo("keys", "revoke", name, "--control", spo.env["SPO_CONTROL_DB"])
    revoked_at = time.monotonic()

    def refused_everywhere():
        return all(pool.execute_on(slot, "customer_count", headers={"Authorization": f"Bearer {key}"}).status == 401
                   for slot in slots)

    wait_for(refused_everywhere, timeout=1.0, interval=0.02, message="every worker refusing the revoked key")
    assert time.monotonic() - revoked_at <= 1.0
    listing = spo.spo("keys", "list", "--control", spo.env["SPO_CONTROL_DB"]).stdout
    line = next(line for line in listing.splitlines() if line.startswith(name + "\t"))
    assert not line.endswith("\t-"), "a revoked key lists its revocation time"
    assert key not in listing and key.split("_")[2] not in listing, "keys are never listed"
