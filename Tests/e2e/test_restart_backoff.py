"""A worker that keeps dying right after start is restarted with a growing pause (1 s, 2 s, 4 s …)
and reported — in the log at error level and in /metrics — instead of once a second forever; once
it stays up, the streak ends. A `spo serve` of its own, whose slot w1 runs a worker command that
exits at once while a flag file exists; w0 is a real worker and answers /metrics."""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from e2e_support import fastcgi, wait_for


def starts(log: Path, address: str) -> list[float]:
    """When the supervisor started a worker for `address`, from its JSON log."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("component") == "supervisor" and entry.get("event") == "worker started" \
                and entry.get("address") == address:
            times.append(datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp())
    return times


def metric(run: str, name: str, worker: str) -> float | None:
    response = fastcgi(run + "/w0.sock.direct", "GET", "/metrics", timeout=10)
    assert response.status == 200
    for line in response.body.decode().splitlines():
        if line.startswith(f'{name}{{worker="{worker}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_crashing_worker_is_restarted_with_growing_pauses_and_reported(spo):
    run = tempfile.mkdtemp(prefix="spo-backoff-", dir="/tmp")
    flag = Path(run) / "fail-w1"
    flag.touch()
    wrapper = Path(run) / "worker.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *w1.sock.inflight*) [ -e {flag} ] && exit 3;; esac\n'
        f'exec {spo.spo_bin} worker "$@"\n')
    wrapper.chmod(0o755)
    site = Path(run) / "spo.conf"
    site.write_text(f"upstream spo_pool {{\n    server unix:{run}/w0.sock;\n    server unix:{run}/w1.sock;\n}}\n")
    log = Path(run) / "serve.log"
    failing = f"unix:{run}/w1.sock"
    with open(log, "wb") as output:
        serve = subprocess.Popen(
            [spo.spo_bin, "serve", "--nginx", str(site), "--control", spo.env["SPO_CONTROL_DB"],
             "--worker-command", str(wrapper)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        # Two quick deaths are restarted at once, then 1 s, 2 s, 4 s: six starts in about 7 s.
        times = wait_for(lambda: t if len(t := starts(log, failing)) >= 6 else None, timeout=40, interval=0.1,
                         message="six starts of the failing worker")
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps[0] < 0.9 and gaps[1] < 0.9, gaps
        assert 0.8 <= gaps[2] < 3.0, gaps
        assert 1.6 <= gaps[3] < 5.0, gaps
        assert 3.2 <= gaps[4] < 9.0, gaps
        assert gaps[2] < gaps[3] < gaps[4], gaps
        # Reported at error level with the count, and in the healthy worker's /metrics.
        errors = [json.loads(line) for line in log.read_text().splitlines()
                  if '"worker keeps dying right after start' in line]
        assert errors and all(entry["level"] == "error" for entry in errors), errors
        assert max(entry["quick_deaths"] for entry in errors) >= 5
        assert metric(run, "spo_worker_crash_looping", failing) == 1
        assert metric(run, "spo_worker_crash_looping", f"unix:{run}/w0.sock") == 0
        assert metric(run, "spo_worker_restarts_total", failing) >= 5

        # Fixed: the next start (after 8 s) stays up, and 5 s later the streak is over.
        flag.unlink()
        def recovered():
            try:
                up = fastcgi(run + "/w1.sock.direct", "GET", "/api/health", timeout=1).status == 200
            except OSError:  # no worker on the socket yet
                return False
            return up and metric(run, "spo_worker_crash_looping", failing) == 0

        wait_for(recovered, timeout=40, interval=0.2, message="the worker up again and no longer crash looping")
        assert len(starts(log, failing)) == 7
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=40)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
