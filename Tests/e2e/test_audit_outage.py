"""The audit never lies: with the control database unreachable mid-load, every `execution_id` and
`reference` a client received resolves once it is back (the workers spooled them to disk and
replay them); with neither the control database nor a spool, a procedure is not run (503
AUDIT_UNAVAILABLE); and a worker and its supervisor killed together lose nothing.

The control database is made unreachable the way an operator's mistake or a failover does it,
while the target database (same cluster under `spo dev`) stays up: `ALTER DATABASE spo
ALLOW_CONNECTIONS false` and the control connections terminated."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import requests

from e2e_support import fastcgi, pid_alive, processes, wait_for


def block_control(pool):
    pool.psql("ALTER DATABASE spo ALLOW_CONNECTIONS false", db="postgres")
    pool.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'spo'", db="postgres")
    # Gone, not just signalled: each worker has then read its connection's end.
    wait_for(lambda: pool.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'spo'", db="postgres").strip()
             == "0", timeout=10, interval=0.02, message="the control connections to end")


def unblock_control(pool):
    pool.psql("ALTER DATABASE spo ALLOW_CONNECTIONS true", db="postgres")


def stored(pool, table: str, column: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    listed = ",".join(f"'{i}'" for i in ids)
    out = pool.psql(f"SELECT {column} FROM spo.{table} WHERE {column} IN ({listed})")
    return {line for line in out.split() if line}


class Clients:
    """Threads calling a mix of services, keeping every id and reference they were handed."""

    def __init__(self, pool, threads: int = 3):
        self.pool = pool
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[float, int, str | None, str | None, str]] = []
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(threads)]

    def run(self, index: int):
        session = requests.Session()
        calls = [("customer_get", {"p_id": 7}), ("business_failure", {}), ("customer_get", {"p_id": -1})]
        n = index
        while not self.stop.is_set():
            service, parameters = calls[n % len(calls)]
            n += 1
            response = self.pool.execute(service, parameters, session=session, timeout=30)
            body = response.json()
            reference = (body.get("error") or {}).get("reference")
            with self.lock:
                self.answers.append((time.monotonic(), response.status_code, response.headers.get("X-Execution-ID"),
                                     reference, response.text[:300]))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_every_id_handed_out_while_the_control_database_is_away_resolves(pool):
    try:
        with Clients(pool) as clients:
            wait_for(lambda: len(clients.answers) >= 30, timeout=20, message="answers before the outage")
            block_control(pool)
            blocked_at = time.monotonic()
            wait_for(lambda: sum(1 for a in clients.answers if a[0] > blocked_at) >= 60, timeout=30,
                     message="answers during the outage")
            unblock_control(pool)
            unblocked_at = time.monotonic()
            count = len(clients.answers)
            wait_for(lambda: len(clients.answers) >= count + 30, timeout=20, message="answers after the outage")
    finally:
        unblock_control(pool)

    answers = clients.answers
    expected = {200, 422, 400}
    assert {status for _, status, _, _, _ in answers} <= expected, [a for a in answers if a[1] not in expected][:3]
    during = [a for a in answers if blocked_at < a[0] < unblocked_at]
    assert sum(1 for a in during if a[1] == 200) >= 10, "the outage must have been served, not refused"
    executions = [a[2] for a in answers if a[2]]
    references = [a[3] for a in answers if a[3]]
    assert len(executions) == len(answers) and len(references) >= len(answers) // 2

    def everything_stored():
        return (len(stored(pool, "service_execution", "id", executions)) == len(set(executions))
                and len(stored(pool, "service_error", "reference", references)) == len(set(references)))

    wait_for(everything_stored, timeout=15, interval=0.2, message="every handed-out id and reference in the audit")
    # And through the API, for those handed out during the outage.
    session = requests.Session()
    for _, status, execution, reference, _ in during:
        answer = session.get(pool.url(f"/api/executions/{execution}"), timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["http_status"] == status
        if reference:
            error = session.get(pool.url(f"/api/errors/{reference}"), timeout=10)
            assert error.status_code == 200, error.text
            assert error.json()["execution_id"] == execution


def test_without_control_database_and_spool_a_procedure_is_not_run(pool):
    slot = sorted(pool.workers())[0]
    spool = pool.socket_path(slot) + ".spool"
    note = "e2e-unaudited-" + uuid.uuid4().hex
    try:
        # The slot's next worker finds a directory where its spool should be: it has no spool.
        if os.path.exists(spool):
            os.unlink(spool)
        os.mkdir(spool)
        victim = pool.workers()[slot]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: pool.workers().get(slot) not in (None, victim), timeout=10, message="a replacement worker")
        wait_for(lambda: pool.execute_on(slot, "customer_get", {"p_id": 3}).status == 200, timeout=10,
                 interval=0.05, message="the replacement to execute")

        block_control(pool)
        response = pool.execute_on(slot, "note_add", {"p_customer_id": 3, "p_note": note})
        assert response.status == 503, response.body
        error = response.json()["error"]
        assert error["code"] == "AUDIT_UNAVAILABLE" and error["reference"] is None, error
        assert "X-Execution-ID" not in response.headers
    finally:
        unblock_control(pool)
        if os.path.isdir(spool):
            os.rmdir(spool)
        worker = pool.workers().get(slot)
        if worker:
            os.kill(worker, signal.SIGKILL)  # its replacement opens a spool again
        pool.wait_pool(timeout=20)
    assert pool.psql(f"SELECT count(*) FROM demo.order_note WHERE note = '{note}'", db="demo").strip() == "0"


def test_a_worker_and_its_supervisor_killed_together_lose_nothing(pool):
    """A pool of its own (`spo serve` on one line, asked over FastCGI directly): executions spooled
    during an outage and one in flight, then `kill -9` of both processes; the next `spo serve`
    replays the spool and audits the one in flight as `interrupted`."""
    directory = tempfile.mkdtemp(prefix="spo-ks-", dir="/tmp")
    site = os.path.join(directory, "site.conf")
    with open(site, "w") as f:
        f.write(f"upstream spo_pool {{\n    server unix:{directory}/w0.sock;\n}}\n")
    env = pool.env
    control = f"host={env['PGHOST']} port={env['PGPORT']} user={env['PGUSER']} dbname=spo"
    direct = f"{directory}/w0.sock.direct"
    log = open(directory + ".log", "ab")
    serves = []

    def serve():
        process = subprocess.Popen([pool.spo_bin, "serve", "--nginx", site, "--control", control],
                                   stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        serves.append(process)

        def answering():
            try:
                return fastcgi(direct, "POST", "/api/services/customer_get/execute", b'{"p_id": 1}',
                               timeout=5).status == 200
            except OSError:
                return False

        wait_for(answering, timeout=30, interval=0.1, message="the separate pool to execute")
        return process

    def worker_pid():
        for p in processes():
            if len(p.argv) > 1 and p.argv[1] == "worker" and any(directory in a for a in p.argv):
                return p.pid
        return None

    try:
        supervisor = serve()
        worker = worker_pid()
        block_control(pool)
        spooled = []
        for n in range(5):
            response = fastcgi(direct, "POST", "/api/services/customer_get/execute", b'{"p_id": %d}' % (n + 1))
            assert response.status == 200, response.body
            spooled.append(response.json()["execution_id"])
        in_flight = {}

        def slow():
            try:
                fastcgi(direct, "POST", "/api/services/slow/execute", b'{"p_seconds": 5}', timeout=30)
            except (OSError, ConnectionError):
                pass  # the worker is killed mid-request

        threading.Thread(target=slow, daemon=True).start()

        def noted():
            with open(f"{directory}/w0.sock.inflight", "rb") as f:
                line = f.read().split(b"\n", 1)[0]
            if b"slow" in line:
                in_flight.update(json.loads(line))
                return True
            return False

        wait_for(noted, timeout=10, interval=0.01, message="the slow execution in the journal")
        os.kill(supervisor.pid, signal.SIGKILL)
        os.kill(worker, signal.SIGKILL)
        supervisor.wait(timeout=10)
        wait_for(lambda: not pid_alive(worker), timeout=10, message="the worker to die")
        assert os.path.getsize(f"{directory}/w0.sock.spool") > 0
        unblock_control(pool)
        assert stored(pool, "service_execution", "id", spooled) == set()

        serve()
        ids = spooled + [in_flight["execution_id"]]
        wait_for(lambda: len(stored(pool, "service_execution", "id", ids)) == len(ids), timeout=15, interval=0.1,
                 message="every execution of the killed pool in the audit")
        status = pool.psql(f"SELECT status FROM spo.service_execution WHERE id = '{in_flight['execution_id']}'")
        assert status.strip() == "interrupted"
    finally:
        unblock_control(pool)
        for process in serves:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=40)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
