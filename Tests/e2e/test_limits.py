"""Limits through the real stack (issue 10, point 5): the body limit declared once in the site file
and enforced alike by nginx and the workers, the JSON shape limits, the result cap (a procedure
returning five million rows leaves the worker's memory where it was), nginx's cut of slow clients,
and `Cache-Control: no-store` on every API answer."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import threading
import time
from pathlib import Path

import requests

from e2e_support import create_live_service, fastcgi, processes, wait_for
from test_nginx import assert_error_shape

EXECUTE = "/api/services/customer_get/execute"


def _post(spo, path: str, body: bytes, **kwargs) -> requests.Response:
    return requests.post(spo.url(path), data=body, headers={"Content-Type": "application/json"}, timeout=60,
                         **kwargs)


def test_a_worker_reads_each_parameter_by_its_whole_name(spo):
    """FastCGI parameters whose names begin or end like the ones the worker reads (a longer one,
    a shorter one, sent first) leave the real ones as they are: the correlation id it answers with
    and the body length it reads are the request's own."""
    slot = sorted(spo.workers())[0]
    headers = {"X-Correlation-ID-Extra": "not-this-one", "X-Correlation": "nor-this", "X-Correlation-ID": "whole-name-1",
               "Content-Length-Hint": "1"}
    answer = fastcgi(spo.direct_path(slot), "POST", EXECUTE, b'{"p_id": 1}', headers=headers)
    assert answer.status == 200, answer.body
    assert answer.headers.get("X-Correlation-ID") == "whole-name-1", answer.headers
    assert answer.json()["status"] == "succeeded"


# ------------------------------------------------------------------------------------------------
# Cache-Control
# ------------------------------------------------------------------------------------------------


def test_every_api_answer_says_no_store_and_static_files_do_not(spo):
    answers = {
        "health": requests.get(spo.url("/api/health"), timeout=10),
        "openapi": requests.get(spo.url("/api/openapi.json"), timeout=10),
        "execute 200": spo.execute("customer_get", {"p_id": 1}),
        "execute 400": spo.execute("customer_get", {"p_id": "one"}),
        "no such endpoint": requests.get(spo.url("/api/nothing-here"), timeout=10),
        "bad key": requests.get(spo.url("/api/services"), headers={"Authorization": "Bearer spo_nope"}, timeout=10),
        "admin list": requests.get(spo.url("/api/services"), timeout=10),
        "nginx's 413": _post(spo, EXECUTE, b'{"p": "' + b"x" * ((1 << 20) + 10) + b'"}'),
    }
    assert answers["execute 200"].status_code == 200
    assert answers["nginx's 413"].status_code == 413
    for name, response in answers.items():
        assert response.headers.get("Cache-Control") == "no-store", (name, dict(response.headers))
    # Straight from a worker too (another proxy in front gets it as well).
    slot = sorted(spo.workers())[0]
    assert fastcgi(spo.direct_path(slot), "GET", "/api/health").headers.get("Cache-Control") == "no-store"
    # The admin page's files may be cached (revalidated): not no-store.
    page = requests.get(spo.url("/admin/"), timeout=10)
    assert page.status_code == 200
    assert page.headers.get("Cache-Control") == "no-cache"


# ------------------------------------------------------------------------------------------------
# JSON shape limits
# ------------------------------------------------------------------------------------------------


def _problem(response: requests.Response, status: int = 400) -> dict:
    error = assert_error_shape(response, status, "INVALID_PARAMETERS")
    assert error["details"], error
    return error["details"][0]


def test_json_shape_limits_answer_400_naming_the_limit(spo):
    deep = b'{"p_id": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}"
    problem = _problem(_post(spo, EXECUTE, deep))
    assert "deeper than 32 levels (SPO_MAX_JSON_DEPTH)" in problem["problem"], problem
    assert problem["parameter"].startswith("p_id[0]"), problem

    # Past jansson's own 2048 levels: still the depth limit, not "invalid JSON".
    deeper = b'{"p_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    problem = _problem(_post(spo, EXECUTE, deeper))
    assert "SPO_MAX_JSON_DEPTH" in problem["problem"], problem

    problem = _problem(spo.execute("customer_get", {"p_id": "9" * 100_001}))
    assert problem == {"parameter": "p_id",
                       "problem": "is a string longer than 100000 characters (SPO_MAX_STRING_LENGTH)"}

    problem = _problem(spo.execute("customer_get", {"p_id": [1] * 10_001}))
    assert problem["parameter"] == "p_id" and "SPO_MAX_ARRAY_ITEMS" in problem["problem"], problem

    many = {f"p_{n}": n for n in range(101)}
    error = assert_error_shape(spo.execute("customer_get", many), 400, "INVALID_PARAMETERS")
    assert error["details"] == [{"parameter": None,
                                 "problem": "has 101 parameters; at most 100 are accepted (SPO_MAX_PARAMETERS)"}]
    envelope = requests.post(spo.url("/api/execute"), json={"service": "customer_get", "parameters": many}, timeout=30)
    assert "SPO_MAX_PARAMETERS" in assert_error_shape(envelope, 400, "INVALID_PARAMETERS")["message"]

    # Within every limit, the same service answers.
    assert spo.execute("customer_get", {"p_id": 1}).status_code == 200


# ------------------------------------------------------------------------------------------------
# The body limit: one declaration
# ------------------------------------------------------------------------------------------------


def _set_site(spo, text: str):
    temporary = spo.site_path + ".e2e-tmp"
    Path(temporary).write_text(text)
    os.chmod(temporary, os.stat(spo.site_path).st_mode)
    try:
        os.chown(temporary, os.stat(spo.site_path).st_uid, os.stat(spo.site_path).st_gid)
    except PermissionError:
        pass
    os.replace(temporary, spo.site_path)


def _nginx_master(spo) -> int:
    for p in processes():
        if p.argv and p.argv[0].startswith("nginx: master process") and spo.state_dir in p.cmdline:
            return p.pid
    raise AssertionError("no nginx master of this instance")


def _apply_site(spo, text: str, before: dict[str, int]):
    """Writes the site file, SIGHUPs the supervisor (which replaces every worker when the body limit
    changed), waits for the new workers, then reloads nginx."""
    _set_site(spo, text)
    os.kill(spo.supervisor_pid(), signal.SIGHUP)
    wait_for(lambda: set(spo.workers()) == set(before)
             and all(pid != before[slot] for slot, pid in spo.workers().items()),
             timeout=30, interval=0.05, message="every worker replaced with the new limit")
    spo.wait_pool(timeout=30)
    os.kill(_nginx_master(spo), signal.SIGHUP)


def _padded(size: int) -> bytes:
    """A JSON body of exactly `size` bytes: p_id and an unknown string member."""
    head, tail = b'{"p_id": 1, "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_the_body_limit_is_declared_once_and_nginx_and_workers_agree(spo):
    original = Path(spo.site_path).read_text()
    assert original.count("client_max_body_size 1m;") == 1
    before = spo.wait_pool()
    small = original.replace("client_max_body_size 1m;", "client_max_body_size 64k;")
    try:
        _apply_site(spo, small, before)
        over, under = _padded(64 * 1024 + 1), _padded(64 * 1024 - 1)
        # nginx refuses it in the API's shape once its reload is in effect (until then the
        # workers, which have the new limit already, do; and for a moment after the first new
        # nginx worker answers, an old one may still take a connection)…
        def refused_by_nginx():  # a 413 response is falsy: it is returned in a tuple
            answer = _post(spo, EXECUTE, over)
            return (answer,) if "client_max_body_size" in answer.text else None

        (refused,) = wait_for(refused_by_nginx, timeout=10, interval=0.1, message="nginx refusing a body over 64 KiB")
        assert "client_max_body_size" in assert_error_shape(refused, 413, "PAYLOAD_TOO_LARGE",
                                                            reference_required=False)["message"]
        # …and so does every worker asked directly, with the same number.
        for slot in spo.workers():
            answer = fastcgi(spo.direct_path(slot), "POST", EXECUTE, over)
            assert answer.status == 413, (slot, answer.body[:300])
            error = answer.json()["error"]
            assert error["code"] == "PAYLOAD_TOO_LARGE" and "65536 bytes" in error["message"], error
            # Just under it reaches validation (which names the unknown member).
            accepted = fastcgi(spo.direct_path(slot), "POST", EXECUTE, under)
            assert accepted.status == 400 and accepted.json()["error"]["details"][0]["parameter"] == "pad"
        through = _post(spo, EXECUTE, under)
        assert assert_error_shape(through, 400, "INVALID_PARAMETERS")["details"][0]["parameter"] == "pad"
    finally:
        after = spo.workers()
        _apply_site(spo, original, after)
    # Back to 1 MiB on both sides.
    wait_for(lambda: _post(spo, EXECUTE, _padded(90_000)).status_code == 400, timeout=10, interval=0.1,
             message="a 90 KB body accepted again")
    slot = sorted(spo.workers())[0]
    assert fastcgi(spo.direct_path(slot), "POST", EXECUTE, _padded(90_000)).status == 400


# ------------------------------------------------------------------------------------------------
# The result cap
# ------------------------------------------------------------------------------------------------


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_five_million_rows_leave_the_worker_bounded_and_serving(spo):
    spo.psql("CREATE OR REPLACE FUNCTION demo.e2e_many_rows(p_count int) RETURNS SETOF int "
             "LANGUAGE sql STABLE AS $$ SELECT generate_series(1, p_count) $$", db="demo")
    spo.psql("GRANT EXECUTE ON FUNCTION demo.e2e_many_rows(int) TO PUBLIC", db="demo")
    create_live_service(spo, {
        "name": "e2e_many_rows", "connection": "demo", "procedure": "demo.e2e_many_rows",
        "parameters": [{"name": "p_count", "type": "integer", "required": True}], "timeout_ms": 50_000,
    })
    workers = spo.wait_pool()
    baseline = {slot: _rss_kib(pid) for slot, pid in workers.items()}
    peak = dict(baseline)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for slot, pid in workers.items():
                try:
                    peak[slot] = max(peak[slot], _rss_kib(pid))
                except (OSError, AssertionError):
                    pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        started = time.monotonic()
        response = spo.execute("e2e_many_rows", {"p_count": 5_000_000}, timeout=90)
        elapsed = time.monotonic() - started
    finally:
        done.set()
        sampler.join(timeout=5)
    error = assert_error_shape(response, 502, "RESULT_TOO_LARGE")
    assert "SPO_MAX_RESULT_BYTES" in error["message"], error
    assert len(response.content) < 4096
    growth_mib = max(peak[slot] - baseline[slot] for slot in workers) / 1024
    # The JSON of five million rows is about 45 MB; the worker received a marker of a few bytes.
    assert growth_mib < 24, f"a worker's RSS grew by {growth_mib:.1f} MiB (peaks {peak}, baseline {baseline})"
    hwm = {slot: _rss_kib(pid, "VmHWM") for slot, pid in workers.items()}
    print(f"\n5,000,000 rows refused in {elapsed:.1f} s; RSS growth at most {growth_mib:.1f} MiB; "
          f"RSS now {[_rss_kib(pid) // 1024 for pid in workers.values()]} MiB, VmHWM {[v // 1024 for v in hwm.values()]} MiB")
    # The same workers keep serving: none died, each answers.
    assert spo.workers() == workers
    for slot in workers:
        answer = spo.execute_on(slot, "customer_get", {"p_id": 7})
        assert answer.status == 200, answer.body[:300]
    # Audited as a failure with the code.
    row = spo.psql(f"SELECT status, error_code, http_status FROM spo.service_execution "
                   f"WHERE id = '{response.headers['X-Execution-ID']}'").strip()
    assert row == "failed|RESULT_TOO_LARGE|502"
    small = spo.execute("e2e_many_rows", {"p_count": 3})
    assert small.status_code == 200 and small.json()["data"] == [1, 2, 3]
    # Gone again, so the suite's document lists only the examples (test_openapi.py).
    assert requests.delete(spo.url("/api/services/e2e_many_rows"), timeout=30).status_code in (200, 204)


# ------------------------------------------------------------------------------------------------
# Slow clients
# ------------------------------------------------------------------------------------------------

HEADER_TIMEOUT = 10  # nginx/spo.conf: client_header_timeout and client_body_timeout


def _closed_after(sock: socket.socket, started: float, dribble: bytes | None, limit: float) -> float | None:
    """Dribbles `dribble` once a second (if any) until the peer closes; the seconds since
    `started` at which it did, or None if it stayed open past `limit`."""
    while time.monotonic() - started < limit:
        readable, _, _ = select.select([sock], [], [], 1.0)
        if readable:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - started
            continue
        if dribble is not None:
            try:
                sock.sendall(dribble)
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - started
    return None


def test_nginx_cuts_a_slowloris_and_a_stalled_body_within_its_timeouts(spo):
    limit = HEADER_TIMEOUT + 10
    results = {}

    def slowloris():
        with socket.create_connection(("127.0.0.1", spo.http_port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            results["headers"] = _closed_after(sock, started, b"X-Slow: 1\r\n", limit)

    def stalled_body():
        with socket.create_connection(("127.0.0.1", spo.http_port), timeout=5) as sock:
            sock.sendall(b"POST " + EXECUTE.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"p_id\": ")
            started = time.monotonic()
            results["body"] = _closed_after(sock, started, None, limit)

    threads = [threading.Thread(target=slowloris), threading.Thread(target=stalled_body)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=limit + 10)
    for kind in ("headers", "body"):
        closed = results.get(kind)
        assert closed is not None, f"nginx kept the {kind} connection open for more than {limit} s"
        # Cut by the timeout (not at once, not much later).
        assert HEADER_TIMEOUT - 1 <= closed <= HEADER_TIMEOUT + 5, (kind, closed)
    # Meanwhile everyone else was served.
    assert spo.execute("customer_get", {"p_id": 3}).status_code == 200
