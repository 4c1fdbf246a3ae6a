"""kill -9 of the worker running an execution: the client gets nginx's 502 in the API's error
shape, and the execution is audited as `interrupted` (SPEC §5: nothing is lost)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

from e2e_support import correlation_id, pid_alive, wait_for


def test_killed_mid_execution_is_audited_as_interrupted(pool):
    correlation = correlation_id()
    outcome = {}

    def slow_request():
        started = time.monotonic()
        response = pool.execute("slow", {"p_seconds": 0.8}, headers={"X-Correlation-ID": correlation})
        outcome.update(status=response.status_code, text=response.text, headers=response.headers,
                       took=time.monotonic() - started)

    client = threading.Thread(target=slow_request)
    client.start()

    def running_slot():
        for slot in sorted(pool.workers()):
            for text in pool.journal_records(slot):
                if correlation in text:
                    return slot, json.loads(text)
        return None

    slot, record = wait_for(running_slot, timeout=5, interval=0.005, message="the journal of the running `slow`")
    assert record["service_name"] == "slow"
    assert record["parameters"] == {"p_seconds": 0.8}
    execution_id = record["execution_id"]
    victim = pool.workers()[slot]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    client.join(timeout=30)

    assert outcome["status"] == 502, outcome
    error = json.loads(outcome["text"])["error"]
    assert set(error) == {"code", "message", "reference", "details"}
    assert error["code"] == "POOL_UNAVAILABLE", error
    assert outcome["took"] < 0.8 + 5, "the client must learn of the failure, not wait for a timeout"

    def audited():
        return pool.psql(
            "SELECT service_name, status, http_status, error_code, correlation_id, parameters::text "
            f"FROM spo.service_execution WHERE id = '{execution_id}'").strip()

    row = wait_for(audited, timeout=2, interval=0.05, message="the interrupted execution's row")
    audited_after = time.monotonic() - killed_at
    service, status, http_status, code, corr, parameters = row.split("|")
    assert (service, status, http_status, code, corr) == ("slow", "interrupted", "502", "INTERNAL_ERROR", correlation)
    assert json.loads(parameters) == {"p_seconds": 0.8}
    assert audited_after < 2
    error_row = pool.psql(f"SELECT code FROM spo.service_error WHERE execution_id = '{execution_id}'").strip()
    assert error_row == "INTERNAL_ERROR"
    # The journal was taken, the slot has a new worker.
    # Taken by the supervisor, from every slot.
    assert pool.journal_records(slot) == ["", ""], "the journal still names an execution"
    assert not pid_alive(victim)
    wait_for(lambda: pool.workers().get(slot) not in (None, victim), timeout=2, message="a replacement worker")


def test_without_an_id_of_its_own_the_502_carries_the_one_the_execution_is_audited_with(pool):
    # The worker made the id from nginx's $request_id; nginx's own 502 makes the same from it.
    outcome = {}
    seconds = 0.85  # told apart from other tests' `slow` calls in the journals

    def slow_request():
        response = pool.execute("slow", {"p_seconds": seconds})
        outcome.update(status=response.status_code, headers=response.headers)

    client = threading.Thread(target=slow_request)
    client.start()

    def running():
        for slot in sorted(pool.workers()):
            for text in pool.journal_records(slot):
                if text and json.loads(text).get("parameters") == {"p_seconds": seconds}:
                    return slot, json.loads(text)
        return None

    slot, record = wait_for(running, timeout=5, interval=0.005, message="the journal of the running `slow`")
    os.kill(pool.workers()[slot], signal.SIGKILL)
    client.join(timeout=30)
    assert outcome["status"] == 502, outcome
    answered = outcome["headers"]["X-Correlation-ID"]
    assert answered == record["correlation_id"]
    audited = wait_for(lambda: pool.psql(
        f"SELECT correlation_id FROM spo.service_execution WHERE id = '{record['execution_id']}'").strip(),
        timeout=2, interval=0.05, message="the interrupted execution's row")
    assert audited == answered
