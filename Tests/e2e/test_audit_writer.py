"""The pool's audit writer (`spo audit-writer`, one by default): execution rows of concurrent
requests are committed in shared transactions, and the writer killed under load loses no row (the
workers write their rows themselves until the supervisor's replacement is up)."""

from __future__ import annotations

import os
import signal
import threading
import time

from e2e_support import processes, wait_for


def writers(instance) -> dict[int, str]:
    """pid → socket of each audit writer of this instance."""
    return {p.pid: p.argv[p.argv.index("--socket") + 1] for p in processes()
            if len(p.argv) > 2 and p.argv[1] == "audit-writer" and instance.state_dir in p.cmdline}


def load(instance, threads: int, seconds: float, during=None) -> list:
    """`threads` clients executing customer_get back to back for `seconds`; `during()` runs
    meanwhile. Every response, in no particular order."""
    responses, lock, stop = [], threading.Lock(), threading.Event()

    def client(index: int):
        while not stop.is_set():
            response = instance.execute("customer_get", {"p_id": 1 + index})
            with lock:
                responses.append(response)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for c in clients:
        c.start()
    if during:
        during()
    time.sleep(seconds)
    stop.set()
    for c in clients:
        c.join(timeout=60)
    return responses


def ids_of(responses) -> list[str]:
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200][:3]
    return [r.json()["execution_id"] for r in responses]


def test_concurrent_rows_share_transactions(pool):
    found = wait_for(lambda: writers(pool) if len(writers(pool)) == 1 else None, timeout=10,
                     message="one audit writer (SPO_AUDIT_WRITERS defaults to 1)")
    assert all(os.path.exists(socket) for socket in found.values())
    ids = ids_of(load(pool, threads=12, seconds=2))
    assert len(ids) >= 24
    listed = "'{" + ",".join(ids) + "}'::uuid[]"
    rows, transactions = pool.psql(
        f"SELECT count(*), count(DISTINCT xmin::text) FROM spo.service_execution WHERE id = ANY({listed})"
    ).strip().split("|")
    assert int(rows) == len(ids), "every answered execution is a committed row"
    assert int(transactions) < len(ids), "rows of concurrent requests share a transaction"


def test_a_killed_writer_loses_no_row_and_is_replaced(pool):
    before = wait_for(lambda: writers(pool) if len(writers(pool)) == 1 else None, timeout=10,
                      message="one audit writer")
    victim = min(before)

    def kill_one():
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)

    ids = ids_of(load(pool, threads=12, seconds=2.5, during=kill_one))
    listed = "'{" + ",".join(ids) + "}'::uuid[]"
    assert pool.psql(f"SELECT count(*) FROM spo.service_execution WHERE id = ANY({listed})").strip() == str(len(ids))
    after = wait_for(lambda: writers(pool) if len(writers(pool)) == 1 and victim not in writers(pool) else None,
                     timeout=10, message="the killed writer replaced")
    assert before[victim] in after.values(), "the replacement listens where the workers look"
    # The replacement serves: rows of a new burst are grouped again.
    ids = ids_of(load(pool, threads=12, seconds=1.5))
    listed = "'{" + ",".join(ids) + "}'::uuid[]"
    rows, transactions = pool.psql(
        f"SELECT count(*), count(DISTINCT xmin::text) FROM spo.service_execution WHERE id = ANY({listed})"
    ).strip().split("|")
    assert int(rows) == len(ids) and int(transactions) < len(ids)
