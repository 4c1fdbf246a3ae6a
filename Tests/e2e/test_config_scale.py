"""Configuration at scale and start-up (issue 11, points 4 and 5), through the real stack:

- `GET /api/openapi.json` carries an ETag (the same on every worker for the same caller), and
  `If-None-Match` with it is answered 304, through nginx too; a client that accepts gzip gets the
  body the worker compressed once (its own tag, `"…-gzip"`); a change shows at once with another tag;
- a configuration change closes only the target connections whose own settings changed: the
  backend process serving each worker's `demo` connection is the same after an unrelated change,
  and another one after the connection's conninfo changed;
- `spo serve` brings 8 workers to ready (configuration loaded, answering) within a generous
  bound (the real figure is Tests/bench/figures/50-startup's).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import time
import uuid

import requests

from e2e_support import correlation_id, fastcgi, wait_for

NO_KEY = {"Authorization": ""}
DOCUMENT = "/api/openapi.json"


def test_the_document_has_a_tag_and_an_unchanged_one_is_answered_304(pool):
    slots = sorted(pool.workers())
    identity = {"Accept-Encoding": "identity"}
    first = requests.get(pool.url(DOCUMENT), headers=identity, timeout=30)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 34, tag
    # Every worker renders the same text for the same caller, so the tag is the same everywhere.
    for slot in slots:
        answer = fastcgi(pool.direct_path(slot), "GET", DOCUMENT)
        assert answer.status == 200 and answer.headers["ETag"] == tag, slot
        again = fastcgi(pool.direct_path(slot), "GET", DOCUMENT, headers={"If-None-Match": tag})
        assert (again.status, again.body, again.headers["ETag"]) == (304, b"", tag), slot

    unchanged = requests.get(pool.url(DOCUMENT), headers={**identity, "If-None-Match": tag}, timeout=30)
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["Cache-Control"] == "no-store"
    # Gzipped by the worker, once per rendering: a representation with a strong tag of its own,
    # which nginx passes on untouched, and whose bytes are the identity document's.
    compressed = requests.get(pool.url(DOCUMENT), headers={"Accept-Encoding": "gzip, deflate"}, timeout=30,
                              stream=True)
    raw = compressed.raw.read(decode_content=False)
    assert compressed.headers.get("Content-Encoding") == "gzip"
    assert compressed.headers["ETag"] == tag[:-1] + '-gzip"'
    assert "Accept-Encoding" in compressed.headers.get("Vary", "")
    assert gzip.decompress(raw) == first.content and len(raw) * 4 < len(first.content)
    for slot in slots:
        direct = fastcgi(pool.direct_path(slot), "GET", DOCUMENT, headers={"Accept-Encoding": "gzip"})
        assert direct.headers["Content-Encoding"] == "gzip" and gzip.decompress(direct.body) == first.content, slot
        assert direct.headers["ETag"] == compressed.headers["ETag"], slot
    assert requests.get(pool.url(DOCUMENT), headers={"Accept-Encoding": "gzip", "If-None-Match": compressed.headers[
        "ETag"]}, timeout=30).status_code == 304
    # Each tag names its own coding: the gzip tag does not stand for the identity body, nor
    # does gzip;q=0 get gzip.
    assert requests.get(pool.url(DOCUMENT), headers={**identity, "If-None-Match": compressed.headers["ETag"]},
                        timeout=30).status_code == 200
    refused = requests.get(pool.url(DOCUMENT), headers={"Accept-Encoding": "gzip;q=0"}, timeout=30)
    assert "Content-Encoding" not in refused.headers and refused.content == first.content
    # Another caller, another document: the admin's tag does not match the anonymous one.
    anonymous = requests.get(pool.url(DOCUMENT), headers={**NO_KEY, **identity, "If-None-Match": tag}, timeout=30)
    assert anonymous.status_code == 200 and anonymous.headers["ETag"] != tag
    assert len(anonymous.content) < len(first.content)


def test_a_change_shows_at_once_with_another_tag(pool):
    slots = sorted(pool.workers())
    tag = requests.get(pool.url(DOCUMENT), headers={"Accept-Encoding": "identity"}, timeout=30).headers["ETag"]
    marker = f"changed {uuid.uuid4().hex[:8]}"
    original = pool.psql("SELECT description FROM spo.service WHERE name = 'customer_count'").strip()
    try:
        pool.psql(f"UPDATE spo.service SET description = '{marker}' WHERE name = 'customer_count'")
        # The very next request, on every worker, whether or not it has reloaded yet.
        for slot in slots:
            answer = fastcgi(pool.direct_path(slot), "GET", DOCUMENT, headers={"If-None-Match": tag})
            assert answer.status == 200 and answer.headers["ETag"] != tag, slot
            assert marker in answer.json()["paths"]["/api/services/customer_count/execute"]["post"]["summary"]
    finally:
        pool.psql(f"UPDATE spo.service SET description = '{original}' WHERE name = 'customer_count'")


def _demo_backend(pool, slot: str) -> int:
    """The backend process of `slot`'s worker's connection to `demo`: a call tagged with a fresh
    correlation id, which the session keeps as its application_name."""
    correlation = correlation_id()
    answer = pool.execute_on(slot, "customer_get", {"p_id": 1}, headers={"X-Correlation-ID": correlation})
    assert answer.status == 200, answer.body
    pids = pool.psql(f"SELECT pid FROM pg_stat_activity WHERE application_name = 'spo:{correlation}'",
                     db="postgres").split()
    assert len(pids) == 1, pids
    return int(pids[0])


def _serving_everywhere(pool, slots, service: str, status: int):
    """Until every worker answers an execution of `service` with `status` (its snapshot followed)."""
    wait_for(lambda: all(pool.execute_on(slot, service).status == status for slot in slots), 10, interval=0.05,
             message=f"every worker to answer {service} with {status}")


def test_a_reload_keeps_the_target_connections_whose_settings_did_not_change(pool):
    slots = sorted(pool.workers())
    before = {slot: _demo_backend(pool, slot) for slot in slots}
    try:
        # Unrelated to the demo connection: another service disabled, then enabled again.
        pool.psql("UPDATE spo.service SET enabled = false WHERE name = 'big_numbers'")
        _serving_everywhere(pool, slots, "big_numbers", 404)
    finally:
        pool.psql("UPDATE spo.service SET enabled = true WHERE name = 'big_numbers'")
    _serving_everywhere(pool, slots, "big_numbers", 200)
    assert {slot: _demo_backend(pool, slot) for slot in slots} == before

    conninfo = pool.psql("SELECT conninfo FROM spo.connection WHERE name = 'demo'").strip()
    try:
        pool.psql(f"UPDATE spo.connection SET conninfo = conninfo || ' connect_timeout=17' WHERE name = 'demo'")

        def replaced():
            return all(_demo_backend(pool, slot) != before[slot] for slot in slots)

        wait_for(replaced, 10, interval=0.1, message="every worker to reconnect to demo with the new conninfo")
        gone = ",".join(str(pid) for pid in before.values())
        wait_for(lambda: pool.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid IN ({gone})",
                                   db="postgres").strip() == "0",
                 10, interval=0.1, message="the connections of the old conninfo to close")
    finally:
        pool.psql(f"UPDATE spo.connection SET conninfo = '{conninfo}' WHERE name = 'demo'")


def test_spo_serve_brings_eight_workers_to_ready_within_five_seconds(spo):
    run = f"/tmp/spo-start-{uuid.uuid4().hex[:6]}"
    os.mkdir(run)
    site = f"{run}/site.conf"
    with open(site, "w") as f:
        f.write("upstream spo_pool {\n" + "".join(f"    server unix:{run}/w{i}.sock;\n" for i in range(8)) + "}\n")
    sockets = [f"{run}/w{i}.sock.direct" for i in range(8)]
    started = time.monotonic()
    process = subprocess.Popen([spo.spo_bin, "serve", "--nginx", site, "--control", spo.env["SPO_CONTROL_DB"]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def ready(path):
            try:
                return fastcgi(path, "GET", "/api/health", timeout=5).status == 200
            except OSError:
                return False

        waiting = set(sockets)

        def all_ready():
            waiting.difference_update([path for path in list(waiting) if ready(path)])
            return not waiting

        wait_for(all_ready, 30, interval=0.01, message="8 workers answering /api/health")
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"8 workers took {elapsed:.2f} s to be ready"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(run, ignore_errors=True)
