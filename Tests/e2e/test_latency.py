"""No connection pinning (SPEC §2): 64 kept-alive client connections to nginx hammering one
service, and the tail latency stays close to the median."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time

CONNECTIONS = 64
SECONDS = 4.0
WARMUP = 0.5              # connections are opened and the first requests discarded
MAX_PER_CONNECTION = 2000  # a bound on the work, whatever the machine's speed


def test_p99_under_64_kept_alive_connections(pool):
    start = threading.Barrier(CONNECTIONS + 1)
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    host, port = "127.0.0.1", pool.http_port
    body = {}

    def client(index: int):
        connection = http.client.HTTPConnection(host, port, timeout=30)
        mine, bad = [], []
        start.wait()
        begin = time.monotonic()
        warm_until, stop_at = begin + WARMUP, begin + WARMUP + SECONDS
        n = index
        while len(mine) < MAX_PER_CONNECTION:
            payload = json.dumps({"p_id": 1 + n % 1000})
            n += CONNECTIONS
            sent = time.monotonic()
            if sent >= stop_at:
                break
            try:
                connection.request("POST", "/api/services/customer_get/execute", payload,
                                   {"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                bad.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            done = time.monotonic()
            if status != 200:
                bad.append(f"{status}: {data[:200]!r}")
            if sent >= warm_until:
                mine.append(done - sent)
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a client hung"

    assert not failures, f"{len(failures)} requests failed: {failures[:5]}"
    assert len(latencies) >= 500, f"only {len(latencies)} measured requests"
    latencies.sort()
    median = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    report = (f"{len(latencies)} requests, median {median * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
              f"max {latencies[-1] * 1000:.1f} ms")
    print(report)
    assert p99 < 3 * median, report
