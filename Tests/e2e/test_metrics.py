"""Pool-wide metrics: /metrics (Prometheus text) and /api/stats (JSON) sum every worker's counters
from shared memory, add up exactly, and never go backwards when a worker is killed."""

from __future__ import annotations

import http.client
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor

import requests

from e2e_support import AUTH, wait_for

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(pool) -> dict:
    """(name, ((label, value), ...)) → value, from a real GET /metrics through nginx (no key)."""
    response = requests.get(pool.url("/metrics"), timeout=10, headers={"Authorization": None})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    types = {}
    for line in response.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert family in types or name in types, f"{name} has no TYPE line"
        samples[(name, tuple(sorted(LABEL.findall(labels or ""))))] = float(value)
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def worker_label(pool, slot: str) -> str:
    return "unix:" + pool.socket_path(slot)


def test_counters_add_up_exactly_across_the_pool(pool):
    requests_count = 240
    before = scrape(pool)

    def call(n: int):
        response = pool.execute("customer_get", {"p_id": 1 + n % 500})
        return response.status_code, response.headers.get("X-Execution-ID")

    with ThreadPoolExecutor(max_workers=16) as threads:
        answers = list(threads.map(call, range(requests_count)))
    assert [status for status, _ in answers] == [200] * requests_count
    ids = [execution_id for _, execution_id in answers]
    # Spread over the pool: the audit names the worker of each execution.
    pids = pool.psql("SELECT count(DISTINCT worker_pid) FROM spo.service_log WHERE execution_id = ANY('{"
                     + ",".join(ids) + "}'::uuid[])").strip()
    assert int(pids) >= 2, f"only {pids} worker answered"

    after = scrape(pool)
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("spo_requests_total", service="customer_get", status="200") == requests_count
    assert delta("spo_request_duration_seconds_count", service="customer_get") == requests_count
    assert delta("spo_request_duration_seconds_bucket", service="customer_get", le="+Inf") == requests_count
    assert delta("spo_execution_attempts_total", service="customer_get") == requests_count
    assert delta("spo_execution_retries_total", service="customer_get") == 0
    assert delta("spo_request_duration_seconds_sum", service="customer_get") > 0
    # Buckets are cumulative.
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in after.items()
                     if name == "spo_request_duration_seconds_bucket" and dict(labels)["service"] == "customer_get")
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    # Every worker's share is there: the slots that answered add up to the requests (plus the
    # first scrape, counted once answered).
    slots = pool.upstream_slots()
    shares = {slot: delta("spo_worker_requests_total", worker=worker_label(pool, slot)) for slot in slots}
    assert sum(1 for share in shares.values() if share > 0) >= 2, shares
    assert requests_count <= sum(shares.values()) <= requests_count + 2, shares
    assert value(after, "spo_workers_busy") + value(after, "spo_workers_idle") == len(slots)
    assert value(after, "spo_workers_busy") >= 1  # the worker answering the scrape

    # /api/stats says the same (admin key).
    stats = requests.get(pool.url("/api/stats"), timeout=10)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    service = next(s for s in body["services"] if s["name"] == "customer_get")
    assert service["statuses"]["200"] == value(after, "spo_requests_total", service="customer_get", status="200")
    assert service["duration_buckets"][-1] == {"le": None, "count": service["requests"]}
    assert {slot["worker"] for slot in body["workers"]["slots"]} >= {worker_label(pool, s) for s in slots}


def test_errors_count_by_status_and_unknown_names_share_one_label(pool):
    before = scrape(pool)
    assert pool.execute("customer_get", {"p_id": 0}).status_code == 400
    assert pool.execute("customer_get", {"p_id": 0}).status_code == 400
    assert pool.execute("no_such_service_" + os.urandom(4).hex()).status_code == 404
    after = scrape(pool)
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("spo_requests_total", service="customer_get", status="400") == 2
    assert delta("spo_requests_total", service="_unknown", status="404") == 1
    assert not any("no_such_service" in str(labels) for _, labels in after)


def test_counters_never_go_backwards_when_a_worker_is_killed(pool):
    slot = "w1"
    for n in range(20):
        assert pool.execute_on(slot, "customer_get", {"p_id": 1 + n}).status == 200
    before = scrape(pool)
    old = pool.workers()[slot]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: pool.workers().get(slot) not in (None, old), timeout=10, message="a replacement worker")
    pool.wait_pool(timeout=20)
    after = scrape(pool)
    counters = [key for key in before if key[0].endswith(("_total", "_bucket", "_count", "_sum"))]
    went_back = [(key, before[key], after.get(key)) for key in counters if after.get(key, 0.0) < before[key]]
    assert not went_back, went_back
    label = worker_label(pool, slot)
    assert value(after, "spo_worker_restarts_total", worker=label) == value(
        before, "spo_worker_restarts_total", worker=label) + 1
    # The replacement counts on from there.
    for n in range(5):
        assert pool.execute_on(slot, "customer_get", {"p_id": 1 + n}).status == 200
    final = scrape(pool)
    assert value(final, "spo_requests_total", service="customer_get", status="200") == value(
        after, "spo_requests_total", service="customer_get", status="200") + 5
    assert value(final, "spo_worker_requests_total", worker=label) >= value(
        before, "spo_worker_requests_total", worker=label) + 5


def test_metrics_need_a_local_address_and_stats_an_admin_key(pool):
    # nginx admits /metrics from loopback and private networks only: 127.0.0.2 is neither 127.0.0.1 nor private.
    connection = http.client.HTTPConnection("127.0.0.1", pool.http_port, timeout=10, source_address=("127.0.0.2", 0))
    connection.request("GET", "/metrics")
    assert connection.getresponse().status == 403
    connection.close()
    assert requests.get(pool.url("/api/stats"), timeout=10, headers={"Authorization": None}).status_code == 401
    assert AUTH  # the admin key the other calls carry


def test_the_document_declares_both(pool):
    document = requests.get(pool.url("/api/openapi.json"), timeout=10).json()
    metrics = document["paths"]["/metrics"]["get"]
    assert "text/plain" in metrics["responses"]["200"]["content"]
    assert "security" not in metrics
    assert "security" in document["paths"]["/api/stats"]["get"]
