"""No connection pinning (SPEC §2): 64 kept-alive client connections to nginx hammering one
service for ~4 s; every answer is 200 and the tail stays close to the median (p99 < 3 × median).

With pinning (nginx `keepalive` + `fastcgi_keep_conn on` to single-threaded workers) requests
queue behind idle kept-alive connections: p99 goes from milliseconds to hundreds of ms or to
timeouts, in every measurement. A loaded machine, by contrast, disturbs a measurement now and
then; so the assertion is made on up to ATTEMPTS windows and the first window that meets it
passes. A pinning pool fails all of them.

The client is one thread multiplexing the 64 connections with `selectors`: it costs far less CPU
than 64 Python threads (which fight over the GIL and add their own latency to the measurement),
and it timestamps each answer as soon as it is readable.
"""

from __future__ import annotations

import json
import selectors
import socket
import statistics
import time

from e2e_support import AUTH

CONNECTIONS = 64
SECONDS = 4.0
WARMUP = 0.5               # the first requests (connection setup) are not measured
ATTEMPTS = 3
MAX_REQUESTS = 200_000     # a bound on the work of one window, whatever the machine's speed
REQUEST_TIMEOUT = 20.0


class Connection:
    def __init__(self, address, index):
        self.address = address
        self.index = index
        self.sent_count = 0
        self.open()

    def open(self):
        self.sock = socket.create_connection(self.address, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buffer = b""
        self.sent_at = None

    def send(self, port):
        n = self.index + self.sent_count * CONNECTIONS
        self.sent_count += 1
        body = json.dumps({"p_id": 1 + n % 1000}).encode()
        request = (f"POST /api/services/customer_get/execute HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Authorization: {AUTH['Authorization']}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        self.sent_at = time.monotonic()
        self.sock.setblocking(True)
        self.sock.sendall(request)
        self.sock.setblocking(False)

    def response(self):
        """(status, body, keep_alive) once a whole response is buffered, else None."""
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buffer[:head_end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        assert "content-length" in headers, f"a response without Content-Length: {head}"
        end = head_end + 4 + int(headers["content-length"])
        if len(self.buffer) < end:
            return None
        body = self.buffer[head_end + 4:end]
        self.buffer = self.buffer[end:]
        return int(head[0].split()[1]), body, headers.get("connection", "").lower() != "close"


def measure(port: int):
    """One window: (latencies of the measured requests, failures)."""
    address = ("127.0.0.1", port)
    selector = selectors.DefaultSelector()
    connections = [Connection(address, i) for i in range(CONNECTIONS)]
    begin = time.monotonic()
    warm_until, stop_at = begin + WARMUP, begin + WARMUP + SECONDS
    latencies, failures, sent = [], [], 0
    for connection in connections:
        selector.register(connection.sock, selectors.EVENT_READ, connection)
        connection.send(port)
        sent += 1
    in_flight = len(connections)
    try:
        while in_flight:
            now = time.monotonic()
            oldest = min((c.sent_at for c in connections if c.sent_at is not None), default=now)
            if now - oldest > REQUEST_TIMEOUT:
                failures.append(f"no answer within {REQUEST_TIMEOUT} s")
                break
            for key, _ in selector.select(timeout=1.0):
                connection = key.data
                chunk = connection.sock.recv(65536)
                if not chunk:
                    failures.append("connection closed by nginx mid-request")
                    selector.unregister(connection.sock)
                    connection.sock.close()
                    connection.sent_at = None
                    in_flight -= 1
                    continue
                connection.buffer += chunk
                answer = connection.response()
                if answer is None:
                    continue
                done = time.monotonic()
                status, body, keep_alive = answer
                if status != 200:
                    failures.append(f"{status}: {body[:200]!r}")
                if connection.sent_at >= warm_until:
                    latencies.append(done - connection.sent_at)
                connection.sent_at = None
                if done >= stop_at or sent >= MAX_REQUESTS:
                    selector.unregister(connection.sock)
                    connection.sock.close()
                    in_flight -= 1
                    continue
                if not keep_alive:  # nginx would close it; open a new one (not pinning-related)
                    selector.unregister(connection.sock)
                    connection.sock.close()
                    connection.open()
                    selector.register(connection.sock, selectors.EVENT_READ, connection)
                connection.send(port)
                sent += 1
    finally:
        for connection in connections:
            try:
                connection.sock.close()
            except OSError:
                pass
        selector.close()
    return latencies, failures


def test_p99_under_64_kept_alive_connections(pool):
    reports = []
    for attempt in range(ATTEMPTS):
        latencies, failures = measure(pool.http_port)
        assert not failures, f"{len(failures)} requests failed: {failures[:5]}"
        assert len(latencies) >= 500, f"only {len(latencies)} measured requests"
        latencies.sort()
        median = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        reports.append(f"{len(latencies)} requests, median {median * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                       f"max {latencies[-1] * 1000:.1f} ms")
        print(reports[-1])
        if p99 < 3 * median:
            return
    raise AssertionError("p99 >= 3 x median in every window:\n" + "\n".join(reports))
