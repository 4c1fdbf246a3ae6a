"""PostgreSQL restarts under the running pool: requests succeed again within seconds, with the
same workers (no pool restart), and configuration changes still reach every worker."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import requests

from e2e_support import fastcgi, postgres_binaries, wait_for


def pg_ctl(pool, *arguments: str):
    """pg_ctl as DevInstance.startPostgres runs it (same -o options and server log)."""
    state = pool.state_dir
    options = (f"-k {state}/pgsocket -p {pool.pg_port} -c listen_addresses='' -c max_connections=300"
               " -c unix_socket_permissions=0770")
    with open(f"{state}/log/pg_ctl-e2e.log", "ab") as log:  # a daemon must not inherit a pipe
        subprocess.run(
            ["runuser", "-u", "postgres", "--", f"{postgres_binaries()}/pg_ctl", "-D", f"{state}/pg",
             "-l", f"{state}/log/postgresql.log", "-w", "-t", "60", *arguments, "-o", options],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, check=True, timeout=90)


def _create_with_discovery(pool, slot: str):
    """POST /api/services with catalog discovery on one worker (its admin-side target connection);
    the service is deleted again. The response of the POST."""
    name = f"recovery_{slot}_{uuid.uuid4().hex[:6]}"
    document = {"name": name, "connection": "demo", "procedure": "demo.customer_count", "parameters": "discover"}
    created = fastcgi(pool.direct_path(slot), "POST", "/api/services", json.dumps(document).encode())
    if created.status == 201:
        assert fastcgi(pool.direct_path(slot), "DELETE", f"/api/services/{name}").status == 204
    return created


def test_requests_succeed_again_after_a_postgres_restart(pool):
    workers, supervisor = pool.workers(), pool.supervisor_pid()
    slots = sorted(workers)
    for slot in slots:
        assert pool.execute_on(slot, "customer_get", {"p_id": 9}).status == 200
        # Each worker keeps a connection for administration's catalog checks too.
        assert _create_with_discovery(pool, slot).status == 201
    postmaster = int(open(f"{pool.state_dir}/pg/postmaster.pid").readline())

    pg_ctl(pool, "-m", "fast", "restart")
    restarted = time.monotonic()
    assert int(open(f"{pool.state_dir}/pg/postmaster.pid").readline()) != postmaster

    # The first administrative write and the first call on each worker succeed: the connections
    # the server closed were noticed, not used.
    for slot in slots:
        created = _create_with_discovery(pool, slot)
        assert created.status == 201, (slot, created.body)
        first = pool.execute_on(slot, "customer_get", {"p_id": 9})
        assert first.status == 200, (slot, first.body)
        assert first.json()["attempts"] == 1, (slot, first.body)

    # Within a few seconds every worker executes again.
    def every_worker_succeeds():
        return all(pool.execute_on(slot, "customer_get", {"p_id": 9}).status == 200 for slot in slots)

    wait_for(every_worker_succeeds, timeout=10, interval=0.1, message="every worker to execute after the restart")
    recovered_after = time.monotonic() - restarted
    assert recovered_after < 5, f"took {recovered_after:.1f} s"
    for _ in range(20):
        response = pool.execute("customer_get", {"p_id": 9})
        assert response.status_code == 200, response.text
    # ... audited in the restarted control database ...
    execution = response.headers["X-Execution-ID"]
    assert pool.psql(f"SELECT status FROM spo.service_execution WHERE id = '{execution}'").strip() == "succeeded"
    # ... by the same processes.
    assert pool.workers() == workers
    assert pool.supervisor_pid() == supervisor

    # The workers LISTEN again on their new control connections: a change still reaches all.
    try:
        pool.psql("UPDATE spo.service SET enabled = false WHERE name = 'big_numbers'")
        changed = time.monotonic()

        def all_disabled():
            return all(pool.execute_on(slot, "big_numbers", {}).status == 404 for slot in slots for _ in range(3))

        wait_for(all_disabled, timeout=1.0, interval=0.02, message="the change to reach every worker")
    finally:
        pool.psql("UPDATE spo.service SET enabled = true WHERE name = 'big_numbers'")
    wait_for(lambda: all(pool.execute_on(slot, "big_numbers", {}).status == 200 for slot in slots),
             timeout=1.0, interval=0.02, message="the service to come back on every worker")


def test_a_crash_of_postgres_under_load_loses_no_audit_row_of_a_2xx(pool):
    """PostgreSQL killed (`pg_ctl restart -m immediate`: no shutdown checkpoint, crash recovery at
    start) while clients call: every execution answered 2xx is in the audit afterwards — committed
    before the answer, or spooled by its worker and replayed."""
    stop = threading.Event()
    lock = threading.Lock()
    answers: list[tuple[float, int, str | None]] = []

    def client():
        session = requests.Session()
        while not stop.is_set():
            try:
                response = pool.execute("customer_get", {"p_id": 7}, session=session, timeout=30)
            except requests.RequestException:
                continue
            with lock:
                answers.append((time.monotonic(), response.status_code, response.headers.get("X-Execution-ID")))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(answers) >= 30, timeout=20, message="answers before the crash")
        pg_ctl(pool, "-m", "immediate", "restart")
        restarted = time.monotonic()
        wait_for(lambda: sum(1 for at, status, _ in answers if at > restarted and status == 200) >= 30, timeout=30,
                 interval=0.1, message="successful answers after the restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    succeeded = [execution for _, status, execution in answers if 200 <= status < 300]
    assert len(succeeded) >= 60 and all(succeeded)

    def missing() -> set[str]:
        listed = ",".join(f"'{execution}'" for execution in succeeded)
        found = pool.psql(f"SELECT id FROM spo.service_execution WHERE id IN ({listed}) AND status = 'succeeded'")
        return set(succeeded) - set(found.split())

    wait_for(lambda: not missing(), timeout=20, interval=0.2, message="every 2xx's audit row")
