"""Read-your-writes across the pool: an admin write answers only once every worker serves it
(migration 16 numbers each configuration change; each worker publishes the generation it serves in
the pool's metrics file), so the caller's next request finds the change whichever worker answers.
A worker busy with a long call cannot hold the write for longer than its deadline (2 s), and serves
the change before its next request.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

DEADLINE = 2.0  # seconds: RequestHandler.convergenceDeadline


def document(name: str, pattern: str = "^[a-z]+$", timeout_ms: int = 1000) -> dict:
    return {"name": name, "connection": "demo", "procedure": "demo.fail_business", "timeout_ms": timeout_ms,
            "parameters": [{"name": "p_code", "type": "text", "pattern": pattern}]}


def on_every_worker(pool, slots, service: str, parameters: dict) -> dict[str, int]:
    """The status each worker answers, all asked at once straight over their own sockets."""
    with ThreadPoolExecutor(len(slots)) as threads:
        statuses = threads.map(lambda slot: pool.execute_on(slot, service, parameters).status, slots)
        return dict(zip(slots, statuses))


def test_a_created_or_changed_service_answers_on_every_worker_once_its_write_answers(pool):
    slots = sorted(pool.workers())
    assert len(slots) >= 2, slots
    names = [f"ryw_{uuid.uuid4().hex[:8]}" for _ in range(8)]
    try:
        for name in names:
            assert requests.post(pool.url("/api/services"), json=document(name), timeout=30).status_code == 201
            # Not one worker answers 404: each already validates with the new service's rules.
            assert set(on_every_worker(pool, slots, name, {"p_code": "!"}).values()) == {400}, name
        # A change too: the pattern now admits "!", so validation passes and the routine runs (422).
        name = names[0]
        changed = requests.put(pool.url(f"/api/services/{name}"), json=document(name, pattern="^!$"), timeout=30)
        assert changed.status_code == 200, changed.text
        assert set(on_every_worker(pool, slots, name, {"p_code": "!"}).values()) == {422}
    finally:
        for name in names:
            requests.delete(pool.url(f"/api/services/{name}"), timeout=30)


def test_a_worker_busy_with_a_long_call_holds_the_write_no_longer_than_the_deadline(pool):
    slots = sorted(pool.workers())
    slow = f"ryw_slow_{uuid.uuid4().hex[:8]}"
    name = f"ryw_{uuid.uuid4().hex[:8]}"
    busy = slots[0]
    slow_document = {"name": slow, "connection": "demo", "procedure": "demo.slow", "timeout_ms": 20000,
                     "parameters": [{"name": "p_seconds", "type": "double precision", "required": True}]}
    assert requests.post(pool.url("/api/services"), json=slow_document, timeout=30).status_code == 201
    try:
        answered = {}
        call = threading.Thread(target=lambda: answered.update(
            status=pool.execute_on(busy, slow, {"p_seconds": 4 * DEADLINE}).status))
        call.start()
        try:
            deadline = time.monotonic() + 10
            while pool.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'",
                            db="demo").strip() == "0":
                assert time.monotonic() < deadline, f"the long call never started: {answered}"
                time.sleep(0.02)
            started = time.monotonic()
            assert requests.post(pool.url("/api/services"), json=document(name), timeout=30).status_code == 201
            took = time.monotonic() - started
            # It waited for the busy worker (it cannot serve the change in the middle of its call),
            # but only up to the deadline, well before the 8 s call ends.
            assert DEADLINE * 0.9 <= took < 3 * DEADLINE, took
            assert answered == {}, "the long call ended before the write answered"
        finally:
            call.join(timeout=30)
        assert answered == {"status": 200}, answered
        # Before its next request the busy worker serves the change.
        assert pool.execute_on(busy, name, {"p_code": "!"}).status == 400
    finally:
        for service in (name, slow):
            requests.delete(pool.url(f"/api/services/{service}"), timeout=30)
