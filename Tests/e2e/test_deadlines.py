"""No wait without a deadline, through the real stack: a target database host that accepts TCP and
never answers costs its service's timeout and nothing else; local processes that connect to the
pool's socket and stay silent do not take workers away from nginx's requests."""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid

import requests

from e2e_support import FCGI_BEGIN_REQUEST, _record, wait_for

# The worker's FastCGI read timeout (SPO_FASTCGI_READ_TIMEOUT_MS, not set by the fixture).
READ_TIMEOUT = 5.0


class SilentListener:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self):
        self.socket.close()
        for connection in self.accepted:
            connection.close()


def _call(pool, method, path, body=None):
    return requests.request(method, pool.url(path), json=body, timeout=30)


def test_a_silent_target_times_out_within_its_timeout_while_others_answer(pool):
    listener = SilentListener()
    suffix = uuid.uuid4().hex[:6]
    connection, service = f"silent-{suffix}", f"silent_{suffix}"
    demo = _call(pool, "GET", "/api/connections/demo").json()
    try:
        # The service is created while its connection still points at the demo database (the
        # catalog check needs an answer), then the connection is moved to the silent host.
        assert _call(pool, "POST", "/api/connections",
                     {"name": connection, "conninfo": demo["conninfo"]}).status_code == 201
        created = _call(pool, "POST", "/api/services",
                        {"name": service, "connection": connection, "procedure": "demo.get_customer",
                         "parameters": "discover", "timeout_ms": 1000, "retry_policy": "default"})
        assert created.status_code == 201, created.text
        # The API refuses to move a connection in use where its services' routines cannot be
        # found (README: connections), so the move is made in the control database, as a target
        # that stops answering later would be found.
        pool.psql(f"UPDATE spo.connection SET conninfo = 'host=127.0.0.1 port={listener.port} dbname=demo "
                  f"user=nobody' WHERE name = '{connection}'")

        # Every worker answers TIMEOUT within the timeout and a margin, once it has the change.
        for slot in sorted(pool.workers()):
            def times_out():
                started = time.monotonic()
                response = pool.execute_on(slot, service, {"p_id": 1})
                return (response, time.monotonic() - started) if response.status == 504 else None

            response, took = wait_for(times_out, timeout=10, interval=0.05, message=f"{slot} to answer 504")
            assert response.json()["error"]["code"] == "TIMEOUT", response.body
            assert took < 3.0, f"{slot} took {took:.2f} s"
        assert listener.accepted, "the workers never connected to the silent host"

        # Two calls hang on the silent host at once; health and another service answer meanwhile.
        results = []

        def silent_call():
            started = time.monotonic()
            response = pool.execute(service, {"p_id": 1})
            results.append((response.status_code, response.json()["error"]["code"], time.monotonic() - started))

        callers = [threading.Thread(target=silent_call) for _ in range(2)]
        for caller in callers:
            caller.start()
        others = []
        while any(caller.is_alive() for caller in callers):
            started = time.monotonic()
            health = requests.get(pool.url("/api/health"), timeout=5)
            other = pool.execute("customer_get", {"p_id": 3}, timeout=5)
            others.append((health.status_code, other.status_code, time.monotonic() - started))
        for caller in callers:
            caller.join()
        assert len(results) == 2
        for status, code, took in results:
            assert (status, code) == (504, "TIMEOUT")
            assert took < 3.0, f"the silent call took {took:.2f} s"
        assert others, "nothing else was asked while the silent calls ran"
        for health, other, took in others:
            assert (health, other) == (200, 200)
            assert took < 1.0, f"health and customer_get took {took:.2f} s while the silent calls ran"
    finally:
        listener.close()
        _call(pool, "DELETE", f"/api/services/{service}")
        _call(pool, "DELETE", f"/api/connections/{connection}")


def test_silent_fastcgi_connections_do_not_take_workers(pool):
    workers = len(pool.workers())
    opened = time.monotonic()
    silent = []
    for _ in range(2 * workers):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(pool.socket_path("w0"))
        silent.append(connection)
    # One that starts a request and stops half-way: bounded by the read timeout too.
    partial = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    partial.connect(pool.socket_path("w0"))
    partial.sendall(_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)))
    try:
        # Requests through nginx keep being answered promptly (before the read timeout frees anyone).
        session = requests.Session()
        latencies = []
        while time.monotonic() - opened < 2.0:
            started = time.monotonic()
            response = pool.execute("customer_get", {"p_id": 4}, session=session, timeout=4)
            assert response.status_code == 200, response.text
            latencies.append(time.monotonic() - started)
        assert len(latencies) >= 5 and max(latencies) < 1.0, f"latencies while silent: {latencies}"

        # The workers close the silent connections once the read timeout passes, the partial one too.
        for connection in silent + [partial]:
            connection.settimeout(READ_TIMEOUT + 5)
            assert connection.recv(1) == b"", "a silent connection got an answer"
        closed_after = time.monotonic() - opened
        assert closed_after < READ_TIMEOUT + 3, f"closed after {closed_after:.1f} s"
    finally:
        for connection in silent + [partial]:
            connection.close()
    # Every worker serves again.
    pool.wait_pool(timeout=5)
