"""Idempotency-Key through nginx and the pool: the first request runs, a repeat answers the
stored answer without running (Idempotent-Replayed: true), another payload under the key is 422,
a repeat while the first runs is 409, and of simultaneous requests on every worker exactly one
runs. Side effects are counted in the rows the procedure inserts."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pytest
import requests

from e2e_support import wait_for

# Made by the example database's owner role; the function writes, so it runs as its owner
# (SECURITY DEFINER), and the executor role gets what the services need from `spo grants`.
SCHEMA = """
SET ROLE spo_target_owner;
CREATE SCHEMA IF NOT EXISTS idem_e2e;
CREATE TABLE IF NOT EXISTS idem_e2e.call (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag text NOT NULL);
CREATE OR REPLACE FUNCTION idem_e2e.record(p_tag text, p_seconds float8 DEFAULT 0)
    RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE n bigint;
BEGIN
    PERFORM pg_sleep(p_seconds);
    INSERT INTO idem_e2e.call (tag) VALUES (p_tag) RETURNING id INTO n;
    RETURN n;
END $$;
"""

SERVICES = {
    "idem_e2e": {},
    "idem_e2e_required": {"idempotency": "required"},
    "idem_e2e_short": {"idempotency_ttl_s": 1},
    "idem_e2e_slow": {"timeout_ms": 2000},
}


@pytest.fixture(scope="module")
def idem(spo):
    spo.psql(SCHEMA, db="demo")
    for name, extra in SERVICES.items():
        document = {"name": name, "connection": "demo", "procedure": "idem_e2e.record", "parameters": "discover",
                    "timeout_ms": 5000, **extra}
        response = requests.put(spo.url(f"/api/services/{name}"), json=document, timeout=30)
        assert response.status_code in (200, 201), response.text
    spo.grant_services()

    # Live on every worker within a second: wait until each one knows the last service.
    def known_everywhere():
        return all(
            spo.execute_on(slot, "idem_e2e_slow", {"p_tag": "warm-up"}).status == 200 for slot in spo.workers())

    wait_for(known_everywhere, timeout=10, interval=0.1, message="the services on every worker")
    yield spo
    # Later files expect the example services only.
    for name in SERVICES:
        assert requests.delete(spo.url(f"/api/services/{name}"), timeout=30).status_code == 204


def _tag() -> str:
    return "t-" + uuid.uuid4().hex


def _calls(spo, tag: str) -> int:
    return int(spo.psql(f"SELECT count(*) FROM idem_e2e.call WHERE tag = '{tag}'", db="demo"))


def _executions(spo, key: str) -> int:
    return int(spo.psql(f"SELECT count(*) FROM spo.service_execution WHERE idempotency_key = '{key}'"))


def _post(spo, service, parameters, key=None, headers=None, session=None):
    headers = dict(headers or {})
    if key is not None:
        headers["Idempotency-Key"] = key
    return spo.execute(service, parameters, session=session, headers=headers)


def _error(response, code, status):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "reference", "details"}
    assert error["code"] == code, error
    return error


def _replays_counted(idem) -> float:
    """spo_idempotent_replays_total{service="idem_e2e"} from the pool's /metrics (no key, local address)."""
    text = requests.get(idem.url("/metrics"), timeout=30, headers={"Authorization": None}).text
    line = next((line for line in text.splitlines()
                 if line.startswith('spo_idempotent_replays_total{service="idem_e2e"}')), None)
    return float(line.split()[-1]) if line else 0.0


def test_a_repeat_answers_the_stored_answer_and_runs_once(idem):
    tag, key = _tag(), _tag()
    replays_before = _replays_counted(idem)
    first = _post(idem, "idem_e2e", {"p_tag": tag}, key)
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(3):
        again = _post(idem, "idem_e2e", {"p_tag": tag}, key)
        assert again.status_code == 200
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["X-Execution-ID"] == first.headers["X-Execution-ID"]
        assert again.headers["Content-Type"] == "application/json"
    # The envelope form is the same call.
    envelope = requests.post(idem.url("/api/execute"), json={"service": "idem_e2e", "parameters": {"p_tag": tag}},
                             headers={"Idempotency-Key": key}, timeout=30)
    assert envelope.content == first.content and envelope.headers["Idempotent-Replayed"] == "true"
    assert _calls(idem, tag) == 1
    assert _executions(idem, key) == 1
    # Every replay is counted, under the service's name, whichever worker answered it.
    assert _replays_counted(idem) - replays_before == 4


def test_another_payload_under_the_key_is_422_and_runs_nothing(idem):
    tag, other, key = _tag(), _tag(), _tag()
    assert _post(idem, "idem_e2e", {"p_tag": tag}, key).status_code == 200
    error = _error(_post(idem, "idem_e2e", {"p_tag": other}, key), "IDEMPOTENCY_KEY_MISMATCH", 422)
    assert "other parameters" in error["message"]
    assert error["reference"] and idem.psql(
        f"SELECT code FROM spo.service_error WHERE reference = '{error['reference']}'").strip() == error["code"]
    assert _calls(idem, other) == 0 and _calls(idem, tag) == 1
    assert _executions(idem, key) == 1


def test_a_malformed_key_is_400_and_runs_nothing(idem):
    tag = _tag()
    _error(_post(idem, "idem_e2e", {"p_tag": tag}, "not a token"), "IDEMPOTENCY_KEY_INVALID", 400)
    _error(_post(idem, "idem_e2e", {"p_tag": tag}, "k" * 129), "IDEMPOTENCY_KEY_INVALID", 400)
    assert _calls(idem, tag) == 0


def test_fifty_simultaneous_requests_with_one_key_run_once(idem):
    assert len(idem.workers()) >= 2, "the pool must have several workers for this test to mean anything"
    tag, key = _tag(), _tag()
    barrier = threading.Barrier(50)
    replies = []
    lock = threading.Lock()

    def client():
        session = requests.Session()
        barrier.wait(timeout=30)
        response = _post(idem, "idem_e2e", {"p_tag": tag, "p_seconds": 0.2}, key, session=session)
        with lock:
            replies.append(response)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(replies) == 50
    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) <= {200, 409}, statuses
    ran = [r for r in replies if r.status_code == 200 and "Idempotent-Replayed" not in r.headers]
    assert len(ran) == 1, statuses
    for reply in replies:
        if reply.status_code == 200:
            assert reply.content == ran[0].content
        else:
            assert reply.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE" and reply.headers["Retry-After"] == "1"
    assert _calls(idem, tag) == 1
    assert _executions(idem, key) == 1
    # Whoever comes now gets the stored answer.
    late = _post(idem, "idem_e2e", {"p_tag": tag, "p_seconds": 0.2}, key)
    assert late.content == ran[0].content and late.headers["Idempotent-Replayed"] == "true"


def test_a_repeat_while_the_first_runs_is_409(idem):
    tag, key = _tag(), _tag()
    outcome = {}
    first = threading.Thread(
        target=lambda: outcome.update(reply=_post(idem, "idem_e2e", {"p_tag": tag, "p_seconds": 1.5}, key)))
    first.start()
    wait_for(lambda: idem.psql(f"SELECT state FROM spo.idempotency_key WHERE key = '{key}'").strip() == "running",
             timeout=10, interval=0.02, message="the first request's claim")
    busy = _post(idem, "idem_e2e", {"p_tag": tag, "p_seconds": 1.5}, key)
    error = _error(busy, "IDEMPOTENCY_KEY_IN_USE", 409)
    assert busy.headers["Retry-After"] == "1"
    assert "still running" in error["message"]
    first.join(timeout=30)
    assert outcome["reply"].status_code == 200
    after = _post(idem, "idem_e2e", {"p_tag": tag, "p_seconds": 1.5}, key)
    assert after.content == outcome["reply"].content and after.headers["Idempotent-Replayed"] == "true"
    assert _calls(idem, tag) == 1


def test_an_expired_key_runs_again(idem):
    tag, key = _tag(), _tag()
    first = _post(idem, "idem_e2e_short", {"p_tag": tag}, key)
    assert first.status_code == 200
    assert _post(idem, "idem_e2e_short", {"p_tag": tag}, key).headers.get("Idempotent-Replayed") == "true"
    # Expired, or already swept away by a worker's cleanup (which deletes expired keys).
    wait_for(lambda: idem.psql(
        f"SELECT coalesce(bool_and(expires_at <= now()), true) FROM spo.idempotency_key WHERE key = '{key}'"
    ).strip() == "t", timeout=10, interval=0.05, message="the key to expire")
    fresh = _post(idem, "idem_e2e_short", {"p_tag": tag}, key)
    assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.headers["X-Execution-ID"] != first.headers["X-Execution-ID"]
    assert _calls(idem, tag) == 2


def test_keys_are_scoped_per_api_key(idem):
    keys = []
    for name in ("idem-client-a", "idem-client-b"):
        created = idem.spo("keys", "create", "--name", name + "-" + uuid.uuid4().hex[:6], "--role", "executor",
                           "--grant", "idem_e2e")
        keys.append(next(word for word in created.stdout.split() if word.startswith("spo_")))
    tag, key = _tag(), _tag()

    def as_client(index):
        return _post(idem, "idem_e2e", {"p_tag": tag}, key, headers={"Authorization": f"Bearer {keys[index]}"})

    # A new key works at once, on whichever worker answers.
    a, b = as_client(0), as_client(1)
    assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
    assert "Idempotent-Replayed" not in b.headers
    assert a.headers["X-Execution-ID"] != b.headers["X-Execution-ID"]
    assert as_client(0).content == a.content and as_client(1).content == b.content
    assert _calls(idem, tag) == 2


def test_a_service_can_require_a_key(idem):
    tag = _tag()
    error = _error(_post(idem, "idem_e2e_required", {"p_tag": tag}), "IDEMPOTENCY_KEY_INVALID", 400)
    assert "requires an Idempotency-Key" in error["message"]
    assert _calls(idem, tag) == 0
    assert _post(idem, "idem_e2e_required", {"p_tag": tag}, _tag()).status_code == 200
    assert _calls(idem, tag) == 1
    document = requests.get(idem.url("/api/services/idem_e2e_required"), timeout=30).json()
    assert document["idempotency"] == "required" and document["idempotency_ttl_s"] == 86400
    # Sent back as read, it stays required.
    assert requests.put(idem.url("/api/services/idem_e2e_required"), json=document, timeout=30).status_code == 200
    assert requests.get(idem.url("/api/services/idem_e2e_required"), timeout=30).json()["idempotency"] == "required"
    openapi = requests.get(idem.url("/api/openapi.json"), timeout=30).json()
    operation = openapi["paths"]["/api/services/idem_e2e_required/execute"]["post"]
    header = next(p for p in operation["parameters"] if p.get("name") == "Idempotency-Key")
    assert header["required"] is True and header["in"] == "header"
    optional = openapi["paths"]["/api/services/idem_e2e/execute"]["post"]["parameters"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in optional
    assert {"409", "422"} <= set(operation["responses"])
    assert "IDEMPOTENCY_KEY_IN_USE" in operation["responses"]["409"]["description"]
    assert "Retry-After" in operation["responses"]["409"]["headers"]


def test_a_killed_workers_claim_does_not_block_forever(idem):
    """kill -9 of the worker running the key's first request: repeats get 409 while its lock holds
    (the service's timeout plus a margin), then — the service being VOLATILE and not declared
    idempotent — an answer that the first may have run, naming the execution the supervisor
    audited as interrupted; the routine is not run again under the key."""
    tag, key = _tag(), _tag()
    outcome = {}
    client = threading.Thread(
        target=lambda: outcome.update(reply=_post(idem, "idem_e2e_slow", {"p_tag": tag, "p_seconds": 1.8}, key)))
    client.start()

    def running_slot():
        for slot in sorted(idem.workers()):
            for text in idem.journal_records(slot):
                if tag in text:
                    return slot, json.loads(text)
        return None

    slot, record = wait_for(running_slot, timeout=10, interval=0.005, message="the journal of the running call")
    os.kill(idem.workers()[slot], signal.SIGKILL)
    killed_at = time.monotonic()
    client.join(timeout=30)
    assert outcome["reply"].status_code == 502
    original = record["execution_id"]
    assert idem.psql(f"SELECT execution_id FROM spo.idempotency_key WHERE key = '{key}'").strip() == original

    busy = _post(idem, "idem_e2e_slow", {"p_tag": tag, "p_seconds": 1.8}, key)
    _error(busy, "IDEMPOTENCY_KEY_IN_USE", 409)

    def settled():
        reply = _post(idem, "idem_e2e_slow", {"p_tag": tag, "p_seconds": 1.8}, key)
        return [reply] if reply.status_code != 409 else None  # a Response is falsy when not ok

    # The lock: timeout_ms 2000 + twice the control timeout (3 s) + 2 s = 10 s; a wide margin on top.
    [answer] = wait_for(settled, timeout=40, interval=0.5, message="the dead claim's lock to pass")
    assert time.monotonic() - killed_at >= 5, "not before the lock passed"
    error = _error(answer, "INTERNAL_ERROR", 500)
    assert original in error["message"] and "may have run" in error["message"], error
    assert error["details"] == [{"execution_id": original}]
    status = idem.psql(f"SELECT status FROM spo.service_execution WHERE id = '{original}'").strip()
    assert status == "interrupted"
    # The killed call's backend may still have finished its sleep and committed; nothing else ran.
    wait_for(lambda: not idem.psql(
        f"SELECT 1 FROM pg_stat_activity WHERE query LIKE '%idem_e2e%' AND state = 'active' AND pid <> pg_backend_pid()",
        db="demo").strip(), timeout=10, interval=0.1, message="the killed call's backend to finish")
    assert _calls(idem, tag) <= 1
    again = _post(idem, "idem_e2e_slow", {"p_tag": tag, "p_seconds": 1.8}, key)
    _error(again, "INTERNAL_ERROR", 500)
    assert _calls(idem, tag) <= 1
