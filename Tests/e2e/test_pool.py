"""The pool: one worker per upstream server line, replacement of dead workers, SIGHUP
reconciliation and SIGTERM draining, all observed from outside (processes, sockets, HTTP)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path


from e2e_support import Load, fastcgi, pid_alive, wait_for


def test_one_worker_per_server_line(pool):
    slots = pool.upstream_slots()
    assert slots == ["w0", "w1", "w2", "w3"]
    workers = pool.workers()
    assert sorted(workers) == slots
    supervisor = pool.supervisor_pid()
    assert supervisor is not None
    for slot, pid in workers.items():
        assert Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1] == str(supervisor), slot
        assert os.path.exists(pool.socket_path(slot)), slot
        response = fastcgi(pool.direct_path(slot), "GET", "/api/health")
        assert response.status == 200 and response.json()["status"] == "ok", (slot, response)
    # The supervisor is a child of spo dev.
    assert Path(f"/proc/{supervisor}/stat").read_text().split(") ")[1].split()[1] == str(pool.process.pid)


def test_workers_get_the_pools_malloc_tunables(pool):
    # Supervisor.mallocTunables: a request's freed blocks stay in glibc's per-thread cache.
    for slot, pid in pool.workers().items():
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"GLIBC_TUNABLES=glibc.malloc.tcache_count=64" in environment, slot


def test_every_line_is_the_one_queue_so_no_request_waits_behind_a_busy_worker(pool):
    slots = pool.upstream_slots()
    # One listening socket behind every line (hard links), each worker with its own besides.
    inodes = {os.stat(pool.socket_path(slot)).st_ino for slot in slots}
    assert len(inodes) == 1, "the lines are not one queue"
    assert len({os.stat(pool.direct_path(slot)).st_ino for slot in slots} - inodes) == len(slots)
    # Keep w0 busy, then send to w0's line: another worker answers at once, not after w0's call.
    busy = threading.Thread(target=lambda: pool.execute_on("w0", "slow", {"p_seconds": 1.0}))
    busy.start()
    try:
        wait_for(lambda: any('"slow"' in record for record in pool.journal_records("w0")), timeout=5,
                 interval=0.005, message="w0 running `slow`")
        for _ in range(5):
            started = time.monotonic()
            assert fastcgi(pool.socket_path("w0"), "GET", "/api/health", timeout=5).status == 200
            assert time.monotonic() - started < 0.5, "a request on w0's line waited for the busy w0"
    finally:
        busy.join(timeout=10)


def test_kill_9_under_load_replaces_the_worker_and_loses_at_most_its_requests_in_hand(pool):
    victim_slot = "w1"
    with Load(pool, threads=16, max_seconds=20) as load:
        time.sleep(1.0)
        old_pid = pool.workers()[victim_slot]
        os.kill(old_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        new_pid = wait_for(lambda: (pid := pool.workers().get(victim_slot)) not in (None, old_pid) and pid,
                           timeout=5, interval=0.005, message="a replacement worker")
        replaced_after = time.monotonic() - killed_at
        time.sleep(2.0)
        load.stop()
    assert not pid_alive(old_pid)
    # At once (no backoff for a first death); the margin is for a loaded machine.
    assert replaced_after < 2.5, f"the worker was replaced after {replaced_after:.3f} s"
    failures = load.failures()
    assert len(load.samples) > 100, f"only {len(load.samples)} requests in 3 s"
    # At most two: the request it was serving and the one whose answer waited for its audit commit.
    assert len(failures) <= 2, f"{len(failures)} of {len(load.samples)} requests failed: {failures[:5]}"
    for failure in failures:  # those the dead worker held: nginx's 502, in the API's error shape
        assert failure.status == 502 and '"POOL_UNAVAILABLE"' in failure.body, failure
    # The replacement serves on the same socket.
    assert fastcgi(pool.direct_path(victim_slot), "GET", "/api/health").status == 200
    assert pool.workers()[victim_slot] == new_pid


def _set_site(pool, text: str):
    path = pool.site_path
    temporary = path + ".e2e-tmp"
    Path(temporary).write_text(text)
    os.replace(temporary, path)


def test_sighup_grows_and_shrinks_the_pool(pool):
    original = Path(pool.site_path).read_text()
    assert original == pool.original_site
    extra = pool.socket_path("w4")
    line = re.search(rf"server unix:{re.escape(pool.socket_path('w3'))}[^;]*;", original).group(0)
    assert original.count(line) == 1
    grown = original.replace(line, line + f"\n    server unix:{extra} max_fails=0;")
    supervisor = pool.supervisor_pid()
    before = pool.workers()
    try:
        _set_site(pool, grown)
        assert pool.upstream_slots() == ["w0", "w1", "w2", "w3", "w4"]
        os.kill(supervisor, signal.SIGHUP)
        hup_at = time.monotonic()
        wait_for(lambda: len(pool.workers()) == 5, timeout=2, interval=0.01, message="5 workers after SIGHUP")
        grown_after = time.monotonic() - hup_at
        workers = pool.workers()
        assert sorted(workers) == ["w0", "w1", "w2", "w3", "w4"]
        assert {slot: workers[slot] for slot in before} == before, "existing workers must keep running"
        response = wait_for(lambda: _health(extra + ".direct"), timeout=5, message="w4 answering")
        assert response.json()["status"] == "ok"
        # The new line is the pool's queue too, even with the supervisor no longer root.
        assert os.stat(extra).st_ino == os.stat(pool.socket_path("w0")).st_ino, "w4's line is a queue of its own"
        assert grown_after < 2.0
    finally:
        _set_site(pool, original)
        os.kill(supervisor, signal.SIGHUP)
    retired = pool.workers().get("w4")
    wait_for(lambda: sorted(pool.workers()) == ["w0", "w1", "w2", "w3"], timeout=5, interval=0.01,
             message="back to 4 workers after SIGHUP")
    # A process on its way out loses its command line before it is gone: wait for the exit itself.
    wait_for(lambda: retired is None or not pid_alive(retired), timeout=5, message="the retired worker to exit")
    assert pool.workers() == before
    wait_for(lambda: not os.path.exists(extra) and not os.path.exists(extra + ".direct"), timeout=2,
             message="w4.sock and w4.sock.direct removed")
    assert pool.supervisor_pid() == supervisor
    # Traffic through nginx is unaffected (nginx never knew about w4).
    for _ in range(8):
        assert pool.execute("customer_get", {"p_id": 2}).status_code == 200


def _health(socket_path):
    try:
        response = fastcgi(socket_path, "GET", "/api/health", timeout=2)
    except OSError:
        return None
    return response if response.status == 200 else None


def test_sigterm_to_a_worker_drains_its_requests(pool):
    """SIGTERM to one worker while it (and the others) serve slow requests: every request in flight
    finishes successfully, the worker exits, and the supervisor starts a new one for its slot."""
    results = []
    lock = threading.Lock()

    def slow_request():
        response = pool.execute("slow", {"p_seconds": 0.5})
        with lock:
            results.append((response.status_code, response.text))

    threads = [threading.Thread(target=slow_request) for _ in range(4)]
    with Load(pool, threads=4, max_seconds=20) as load:
        for thread in threads:
            thread.start()

        def busy_slot():
            for slot in sorted(pool.workers()):
                if any('"slow"' in record for record in pool.journal_records(slot)):
                    return slot
            return None

        slot = wait_for(busy_slot, timeout=5, interval=0.005, message="a worker running `slow`")
        old_pid = pool.workers()[slot]
        os.kill(old_pid, signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=30)
        # The worker finished its request, then left; its slot has a new worker.
        wait_for(lambda: not pid_alive(old_pid), timeout=5, message="the terminated worker to exit")
        new_pid = wait_for(lambda: (pid := pool.workers().get(slot)) not in (None, old_pid) and pid,
                           timeout=3, message="a replacement worker")
        time.sleep(0.5)
    assert len(results) == 4
    assert all(status == 200 and '"done"' in text for status, text in results), results
    assert not load.failures(), load.failures()[:3]
    assert fastcgi(pool.direct_path(slot), "GET", "/api/health").status == 200
    assert pool.workers()[slot] == new_pid


def test_a_worker_whose_queue_is_unusable_exits_instead_of_spinning(pool, tmp_path):
    """A closed listening descriptor makes poll(2) return at once, forever: the worker must leave
    (for the supervisor to replace it) rather than burn a core."""
    import socket as sockets
    listener = sockets.socket(sockets.AF_UNIX)
    listener.bind(str(tmp_path / "own.sock"))
    listener.listen(4)
    started = time.monotonic()
    result = subprocess.run([pool.spo_bin, "worker", "--control", pool.env["SPO_CONTROL_DB"], "--queue-fd", "9"],
                            stdin=listener.fileno(), capture_output=True, text=True, timeout=20)
    listener.close()
    assert result.returncode == 1, result
    assert "no longer usable" in result.stdout + result.stderr
    assert time.monotonic() - started < 10
