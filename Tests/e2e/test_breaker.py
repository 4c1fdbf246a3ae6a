"""Circuit breakers through the real stack: a target database of its own (a second PostgreSQL
cluster, stopped and started by the test) behind a connection of the pool. A breaker opened by one
worker's failures makes every worker answer CIRCUIT_OPEN, at once and without touching the
database; a probe closes it once the database is back; an admin key can reset it."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

from e2e_support import postgres_binaries, wait_for
from test_openapi_conformance import conforms


class TargetCluster:
    """A throwaway PostgreSQL cluster (socket only), run as the postgres user when we are root."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="spo-bt-", dir="/tmp")
        self.port = 5432
        self.bin = postgres_binaries()
        if os.getuid() == 0:
            # The socket's directory: the postgres user's, reachable by the pool's user (group spo)
            # and no one else — the pool's workers run as spo.
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, grp.getgrnam("spo").gr_gid)
            os.chmod(self.directory, 0o750)
        self._run(f"{self.bin}/initdb", "-D", f"{self.directory}/data", "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")

    def _run(self, *arguments: str):
        prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        with open(f"{self.directory}/pg_ctl.out", "ab") as out:  # a daemon must not inherit a pipe
            subprocess.run(prefix + list(arguments), stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                           check=True, timeout=90)

    def start(self):
        self._run(f"{self.bin}/pg_ctl", "-D", f"{self.directory}/data", "-l", f"{self.directory}/log", "-w",
                  "-o", f"-k {self.directory} -p {self.port} -c listen_addresses='' -c fsync=off", "start")

    def stop(self):
        self._run(f"{self.bin}/pg_ctl", "-D", f"{self.directory}/data", "-m", "immediate", "-w", "stop")

    def conninfo(self, database: str) -> str:
        return f"host={self.directory} port={self.port} user=postgres dbname={database}"

    def psql(self, sql: str, database: str = "postgres"):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(database), "-c", sql],
                       check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def target():
    cluster = TargetCluster()
    cluster.start()
    cluster.psql("CREATE DATABASE bt")
    cluster.psql("CREATE FUNCTION public.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'", "bt")
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def remote(pool, target):
    """A connection to the target cluster with a quick breaker, and a service on it; removed after."""
    suffix = uuid.uuid4().hex[:6]
    connection, service = f"bt-{suffix}", f"bt_{suffix}"

    def create(breaker: dict):
        created = requests.post(pool.url("/api/connections"), timeout=30, json={
            "name": connection, "conninfo": target.conninfo("bt"), "breaker": breaker})
        assert created.status_code == 201, created.text
        created = requests.post(pool.url("/api/services"), timeout=30, json={
            "name": service, "connection": connection, "procedure": "public.answer", "parameters": [],
            "retry_policy": "none", "timeout_ms": 3000})
        assert created.status_code == 201, created.text
        # Live on every worker within a second.
        wait_for(lambda: all(pool.execute_on(slot, service).status == 200 for slot in sorted(pool.workers())),
                 timeout=5, interval=0.05, message="the service on every worker")
        return connection, service

    yield create
    try:
        target.start()
    except subprocess.CalledProcessError:
        pass  # running
    requests.delete(pool.url(f"/api/services/{service}"), timeout=30)
    requests.delete(pool.url(f"/api/connections/{connection}"), timeout=30)


def _code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def _open_on_one_worker(pool, target, service: str, failures: int) -> str:
    """Stops the target and sends `failures` calls to one worker; returns that worker's slot."""
    target.stop()
    first = sorted(pool.workers())[0]
    for _ in range(failures):
        reply = pool.execute_on(first, service)
        assert reply.status == 503 and _code(reply) == "DB_CONNECTION_FAILED", reply.body
    refused = pool.execute_on(first, service)
    assert _code(refused) == "CIRCUIT_OPEN", refused.body
    return first


def test_one_workers_failures_open_the_breaker_on_every_worker(pool, target, remote):
    connection, service = remote({"window_calls": 3, "minimum_calls": 3, "failure_rate_threshold": 100, "open_ms": 4000,
                                  "half_open_probes": 1})
    first = _open_on_one_worker(pool, target, service, failures=3)
    opened = time.monotonic()

    # Every other worker hears of it within a poll interval (the NOTIFY wakes it), and refuses.
    others = [slot for slot in sorted(pool.workers()) if slot != first]
    assert others, "the pool needs several workers"
    for slot in others:
        wait_for(lambda: _code(pool.execute_on(slot, service)) == "CIRCUIT_OPEN", timeout=2, interval=0.02,
                 message=f"worker {slot} to refuse")
    assert time.monotonic() - opened < 2

    # Through nginx: refused at once, with Retry-After, whichever worker answers.
    started = time.monotonic()
    replies = [pool.execute(service) for _ in range(30)]
    elapsed = time.monotonic() - started
    assert all(r.status_code == 503 and _code(r) == "CIRCUIT_OPEN" for r in replies), [r.text for r in replies]
    assert all(1 <= int(r.headers["Retry-After"]) <= 4 for r in replies)
    assert elapsed / len(replies) < 0.2, f"{elapsed / len(replies):.3f} s per refused call"
    # Each refusal is audited with its own status and code.
    ids = ", ".join(f"'{r.headers['X-Execution-ID']}'" for r in replies)
    rows = pool.psql(f"SELECT status, error_code, http_status FROM spo.service_execution WHERE id IN ({ids})")
    assert rows.split() == ["circuit_open|CIRCUIT_OPEN|503"] * len(replies)

    # Visible to administration.
    health = requests.get(pool.url("/api/health/services"), timeout=30).json()["items"]
    state = next(item for item in health if item["connection"] == connection)["breaker_state"]
    assert state["state"] == "open" and state["changed_by"].startswith("worker ")
    document = requests.get(pool.url(f"/api/connections/{connection}"), timeout=30).json()
    assert document["breaker_state"]["state"] == "open"
    assert document["breaker"]["open_ms"] == 4000
    # And to monitoring: /metrics (no key, a local address) says which state it is in.
    metrics = requests.get(pool.url("/metrics"), timeout=30, headers={"Authorization": None}).text
    assert f'spo_breaker_state{{connection="{connection}",state="open"}} 1' in metrics, metrics
    assert f'spo_breaker_state{{connection="{connection}",state="closed"}} 0' in metrics

    # Back up: after the open duration a probe closes it, and every worker follows.
    target.start()
    wait_for(lambda: pool.execute(service).status_code == 200, timeout=15, interval=0.1,
             message="a probe to close the breaker")
    assert time.monotonic() - opened >= 3.5, "closed before the open duration"
    for slot in sorted(pool.workers()):
        wait_for(lambda: pool.execute_on(slot, service).status == 200, timeout=2, interval=0.02,
                 message=f"worker {slot} to call again")
    assert pool.psql(f"SELECT state FROM spo.circuit_breaker WHERE connection = '{connection}'").strip() == "closed"


def test_an_admin_key_resets_the_breaker_on_every_worker(pool, target, remote):
    connection, service = remote({"window_calls": 2, "minimum_calls": 2, "failure_rate_threshold": 100, "open_ms": 600000})
    _open_on_one_worker(pool, target, service, failures=2)
    target.start()
    # The answers are what the OpenAPI document declares.
    document = requests.get(pool.url("/api/openapi.json"), timeout=30).json()
    conforms(document, f"/api/services/{service}/execute", "post", pool.execute(service))
    conforms(document, "/api/connections/{name}", "get",
             requests.get(pool.url(f"/api/connections/{connection}"), timeout=30))
    conforms(document, "/api/health/services", "get", requests.get(pool.url("/api/health/services"), timeout=30))
    path = pool.url(f"/api/connections/{connection}/breaker/reset")
    key = pool.spo("keys", "create", "--name", f"bt-exec-{uuid.uuid4().hex[:6]}", "--role", "executor",
                   "--grant", "*", "--control", pool.env["SPO_CONTROL_DB"]).stdout.strip()
    refused = requests.post(path, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert refused.status_code == 403 and _code(refused) == "FORBIDDEN", refused.text
    anonymous = requests.post(path, headers={"Authorization": ""}, timeout=30)
    assert anonymous.status_code == 401, anonymous.text
    assert pool.psql(f"SELECT state FROM spo.circuit_breaker WHERE connection = '{connection}'").strip() == "open"

    reset = requests.post(path, timeout=30)
    assert reset.status_code == 200, reset.text
    assert conforms(document, "/api/connections/{name}/breaker/reset", "post", reset)["state"] == "closed"
    for slot in sorted(pool.workers()):
        wait_for(lambda: pool.execute_on(slot, service).status == 200, timeout=2, interval=0.02,
                 message=f"worker {slot} to call again after the reset")
