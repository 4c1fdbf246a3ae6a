"""Asynchronous execution through nginx, the pool and the queue consumers that `spo serve`
supervises: `Prefer: respond-async` answers 202 with Location, polling reaches the result, bad
input is still refused at once, retries end in `failed` with an error reference, the status list,
who may read an execution back, and the crash test: 1,000 jobs while consumers are killed with
kill -9 over and over, every one ending exactly once."""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import requests

from e2e_support import UUID_RE, processes, wait_for

ASYNC = {"Prefer": "respond-async"}
TERMINAL = {"succeeded", "failed", "timeout", "rejected", "interrupted"}


def consumers(instance) -> list[int]:
    """The pids of the instance's queue consumers (`spo consume`, children of its supervisor: their
    command line names nothing of the instance, the conninfo comes in the environment)."""
    supervisor = instance.supervisor_pid()
    return [p.pid for p in processes() if len(p.argv) > 1 and p.argv[1] == "consume" and p.ppid == supervisor]


def enqueue(instance, service: str, parameters: dict, headers: dict | None = None) -> str:
    response = instance.execute(service, parameters, headers={**ASYNC, **(headers or {})})
    assert response.status_code == 202, response.text
    return response.json()["execution_id"]


def poll(instance, execution_id: str, headers: dict | None = None, timeout: float = 30) -> dict:
    def done():
        response = requests.get(instance.url(f"/api/executions/{execution_id}"), headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body["status"] in TERMINAL else None

    return wait_for(done, timeout, interval=0.05, message=f"execution {execution_id} to finish")


def create_key(instance, name: str, *grants: str) -> str:
    args = ["keys", "create", "--name", name, "--role", "executor", "--control", instance.env["SPO_CONTROL_DB"]]
    for grant in grants:
        args += ["--grant", grant]
    return instance.spo(*args).stdout.strip()


def test_respond_async_answers_202_and_polling_reaches_the_result(pool):
    wait_for(lambda: len(consumers(pool)) == 2, 10, message="the two default consumers")
    response = pool.execute("customer_get", {"p_id": 42}, headers=ASYNC)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"execution_id", "service", "status"}
    assert UUID_RE.match(body["execution_id"]) and body["status"] == "queued" and body["service"] == "customer_get"
    # nginx makes a relative Location absolute (absolute_redirect); either names the execution.
    assert urlparse(response.headers["Location"]).path == f"/api/executions/{body['execution_id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert response.headers["X-Execution-ID"] == body["execution_id"]

    finished = poll(pool, body["execution_id"])
    assert finished["status"] == "succeeded", finished
    assert finished["data"] == pool.execute("customer_get", {"p_id": 42}).json()["data"]
    assert finished["data"][0]["name"] == "Chloé Chen"
    # Without the header nothing changes: the answer is the result itself.
    assert pool.execute("customer_get", {"p_id": 42}).status_code == 200


def test_invalid_input_is_refused_at_once_and_nothing_is_queued(pool):
    before = pool.psql("SELECT count(*) FROM spo.execution_job").strip()
    response = pool.execute("customer_get", {"p_id": 0}, headers=ASYNC)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_PARAMETERS"
    assert "Location" not in response.headers
    assert pool.psql("SELECT count(*) FROM spo.execution_job").strip() == before


def test_retries_follow_the_policy_then_the_execution_fails_with_its_error_reference(pool):
    execution_id = enqueue(pool, "flaky", {"p_key": uuid.uuid4().hex, "p_failures": 9})
    finished = poll(pool, execution_id)
    assert finished["status"] == "failed", finished
    assert finished["error_code"] == "SP_EXECUTION_FAILED" and finished["attempts"] == 3
    assert [attempt["sqlstate"] for attempt in finished["attempt_log"]] == ["40001"] * 3
    reference = finished["errors"][0]["reference"]
    error = requests.get(pool.url(f"/api/errors/{reference}"), timeout=10).json()
    assert error["code"] == "SP_EXECUTION_FAILED" and error["sqlstate"] == "40001"


def test_status_list_answers_each_id_in_order(pool):
    first = enqueue(pool, "customer_count", {})
    unknown = str(uuid.uuid4())
    poll(pool, first)
    response = requests.post(pool.url("/api/executions/status"), json={"ids": [first, unknown]}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [{"execution_id": first, "status": "succeeded"},
                                         {"execution_id": unknown, "status": None}]}
    bad = requests.post(pool.url("/api/executions/status"), json={"ids": ["1; DROP TABLE x"]}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == [{"parameter": "ids[0]", "problem": "must be an execution id (a UUID)"}]


def test_only_the_key_that_queued_it_and_admins_read_it_back(pool):
    owner = create_key(pool, f"queuer-{uuid.uuid4().hex[:6]}", "customer_count")
    other = create_key(pool, f"other-{uuid.uuid4().hex[:6]}", "customer_count")
    as_owner = {"Authorization": f"Bearer {owner}"}
    execution_id = enqueue(pool, "customer_count", {}, headers=as_owner)
    mine = poll(pool, execution_id, headers=as_owner)
    assert mine["status"] == "succeeded" and isinstance(mine["data"], int)
    assert "parameters" not in mine and "attempt_log" not in mine  # the queuer's view, not administration's
    theirs = requests.get(pool.url(f"/api/executions/{execution_id}"),
                          headers={"Authorization": f"Bearer {other}"}, timeout=10)
    assert theirs.status_code == 404
    statuses = requests.post(pool.url("/api/executions/status"), json={"ids": [execution_id]},
                             headers={"Authorization": f"Bearer {other}"}, timeout=10).json()
    assert statuses["items"][0]["status"] is None
    admin = requests.get(pool.url(f"/api/executions/{execution_id}"), timeout=10).json()
    assert admin["status"] == "succeeded" and admin["data"] == mine["data"] and "attempt_log" in admin
    # A synchronous execution is not readable by its caller (administration only), as before.
    sync = pool.execute("customer_count", {}, headers=as_owner).json()["execution_id"]
    assert requests.get(pool.url(f"/api/executions/{sync}"), headers=as_owner, timeout=10).status_code == 404


def test_a_thousand_jobs_survive_consumers_killed_with_kill_9(pool):
    """Every execution reaches exactly one terminal state and every job's row is in the target
    table exactly once, while consumers are killed mid-run again and again."""
    wait_for(lambda: len(consumers(pool)) == 2, 10, message="the two default consumers")
    tag = uuid.uuid4().hex[:8]
    notes = [f"crash-{tag}-{index}" for index in range(1000)]
    kills = 0
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as clients:
        queued = clients.map(lambda note: enqueue(pool, "note_add", {"p_customer_id": 1, "p_note": note}), notes)
        ids = []
        for execution_id in queued:
            ids.append(execution_id)
            if len(ids) % 100 == 0:
                kills += kill_a_consumer(pool)
    # Keep killing while they work through the backlog.
    while kills < 12 and time.monotonic() - started < 40:
        kills += kill_a_consumer(pool)
        time.sleep(0.4)

    id_list = "'{" + ",".join(ids) + "}'::uuid[]"

    def all_settled():
        left = pool.psql(f"SELECT count(*) FROM spo.service_execution WHERE id = ANY({id_list}) "
                         "AND status IN ('queued', 'running')").strip()
        return left == "0"

    wait_for(all_settled, 90, interval=0.5, message="every job to settle")
    took = time.monotonic() - started
    statuses = pool.psql(f"SELECT status, count(*) FROM spo.service_execution WHERE id = ANY({id_list}) "
                         "GROUP BY status").split()
    assert statuses == ["succeeded|1000"], statuses
    states = pool.psql(f"SELECT state, count(*) FROM spo.execution_job WHERE execution_id = ANY({id_list}) "
                       "GROUP BY state").split()
    assert states == ["done|1000"], states
    rows = pool.psql(f"SELECT count(*), count(DISTINCT note) FROM demo.order_note WHERE note LIKE 'crash-{tag}-%'",
                     db="demo").strip()
    assert rows == "1000|1000", f"each job's row exactly once: {rows}"
    reclaimed = int(pool.psql(f"SELECT count(*) FROM spo.execution_job WHERE execution_id = ANY({id_list}) "
                              "AND attempts > 1").strip())
    print(f"\n1000 jobs, {kills} consumers killed, {reclaimed} jobs claimed again, {took:.1f} s")
    assert kills >= 12
    assert reclaimed >= 1, "no kill hit a running job: the test did not test recovery"
    wait_for(lambda: len(consumers(pool)) == 2, 15, message="the consumers to be back")


def kill_a_consumer(instance) -> int:
    running = consumers(instance)
    if not running:
        return 0
    try:
        os.kill(random.choice(running), signal.SIGKILL)
    except ProcessLookupError:
        return 0
    return 1


def test_async_answers_match_the_openapi_document(pool):
    from test_openapi_conformance import conforms

    document = requests.get(pool.url("/api/openapi.json"), timeout=10).json()
    post = document["paths"]["/api/services/customer_get/execute"]["post"]
    assert {"$ref": "#/components/parameters/Prefer"} in post["parameters"]
    accepted = pool.execute("customer_get", {"p_id": 7}, headers=ASYNC)
    conforms(document, "/api/services/customer_get/execute", "post", accepted)
    envelope = requests.post(pool.url("/api/execute"), json={"service": "customer_count"}, headers=ASYNC, timeout=10)
    conforms(document, "/api/execute", "post", envelope)
    key = create_key(pool, f"conform-{uuid.uuid4().hex[:6]}", "customer_get")
    as_owner = {"Authorization": f"Bearer {key}"}
    mine = pool.execute("customer_get", {"p_id": 7}, headers={**ASYNC, **as_owner}).json()["execution_id"]
    poll(pool, mine, headers=as_owner)
    conforms(document, "/api/executions/{id}", "get",
             requests.get(pool.url(f"/api/executions/{mine}"), headers=as_owner, timeout=10))
    conforms(document, "/api/executions/{id}", "get", requests.get(pool.url(f"/api/executions/{mine}"), timeout=10))
    ids = [accepted.json()["execution_id"], envelope.json()["execution_id"], str(uuid.uuid4())]
    conforms(document, "/api/executions/status", "post",
             requests.post(pool.url("/api/executions/status"), json={"ids": ids}, timeout=10))


def _queue_gauges(instance) -> dict:
    """spo_queue_jobs{state} and the oldest job's age, from the pool's /metrics (no key, local address)."""
    text = requests.get(instance.url("/metrics"), timeout=30, headers={"Authorization": None}).text
    values = {}
    for line in text.splitlines():
        if line.startswith(("spo_queue_jobs{", "spo_queue_oldest_job_age_seconds ")):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_show_the_queue_waiting_and_then_drained(pool):
    """With every consumer stopped, queued jobs show in /metrics with their age; once the consumers
    go on, the queue drains to zero."""
    wait_for(lambda: len(consumers(pool)) == 2, 10, message="the two default consumers")
    stopped = consumers(pool)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        ids = [enqueue(pool, "customer_get", {"p_id": 1}) for _ in range(5)]
        def five_queued():
            gauges = _queue_gauges(pool)
            return gauges if gauges.get('spo_queue_jobs{state="queued"}', 0) >= 5 else None

        gauges = wait_for(five_queued, 10, interval=0.1, message="five queued jobs in /metrics")
        assert gauges["spo_queue_oldest_job_age_seconds"] > 0
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    for execution_id in ids:
        assert poll(pool, execution_id)["status"] == "succeeded"
    wait_for(lambda: _queue_gauges(pool).get('spo_queue_jobs{state="queued"}') == 0, 10, interval=0.1,
             message="the queue to drain")
