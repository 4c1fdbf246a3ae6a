"""Scale-out (README, Scaling out): Tests/scaleout/two-hosts end to end, through `make bench`'s
figure 60 in its quick form. Two hosts in network namespaces, each nginx + `spo serve`, behind a
front nginx; the control database behind PgBouncer in transaction mode (every statement of both
pools through it, LISTEN on a session of its own). The script checks executions audited through
the pooler, a configuration change followed across hosts, an Idempotency-Key replayed on the other
host, jobs queued on one host run by the other's consumer, a breaker shared across hosts, and that
killing one host's pool (SIGKILL) under load loses no request beyond those in flight and executes
none twice; the figure adds the throughput through the front with two hosts and with one. Needs
root (ip netns): run as another user, it fails saying so."""

from __future__ import annotations

import json
import os
import subprocess

from e2e_support import REPO

FIGURE = REPO / "Tests" / "bench" / "figures" / "60-scale-out"


def test_two_hosts_behind_a_front_nginx_lose_no_request_when_one_pool_is_killed():
    assert os.getuid() == 0, "Tests/scaleout/two-hosts needs root: network namespaces (ip netns) and veth pairs"
    result = subprocess.run(
        [str(FIGURE)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "BENCH_QUICK": "1",
             "SPO_BIN": os.environ.get("SPO_BIN", str(REPO / ".build" / "release" / "spo"))})
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-8000:]}"
    assert result.returncode == 0, report
    [line] = [line for line in result.stderr.splitlines() if line.startswith("two-hosts result: ")]
    summary = json.loads(line[len("two-hosts result: "):])
    assert summary["held"], report
    kill = summary["kill"]
    assert kill["ok"] > 100 and kill["answered"] == kill["requests_sent"], report
    assert kill["lost"] == 0 and kill["executed_twice"] == 0 and kill["ok_not_audited_once"] == 0, report
    assert kill["failed"] == kill["in_flight_at_kill"], report
    # What the killed pool could hold: a request per client thread at a time (16 threads). The
    # kill is not instantaneous (six processes, one SIGKILL each), so a thread whose request failed
    # on the first may send its next one to the same host before the last: twice that at most.
    assert kill["in_flight_at_kill"] <= 2 * 16, report
    # The supervisor, its 4 workers and its audit writer (SPO_AUDIT_WRITERS defaults to 1).
    assert kill["killed_processes"] == 6, report
    assert summary["pooled"]["audited"] == 10 and summary["pooled"]["pgbouncer_transactions"] >= 10, report
    assert summary["queue"]["jobs"] == 20 and summary["idempotency"]["replayed"], report
    assert summary["breaker"]["shared"] and summary["configuration"]["followed"], report
    # Nothing left behind: neither namespace of the run, nor their veth pairs.
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert len(summary["namespaces"]) == 2 and not set(summary["namespaces"]) & set(listed), report
    assert all(f"vso{name[3:]}" not in links for name in summary["namespaces"]), report
    # The figure rows, in the contract's shape (Tests/bench/run's table).
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()[-2:]]
    for row in rows:
        assert set(row) >= {"figure", "value", "unit", "reference", "reference_label", "ratio", "better"}, row
    assert [row["unit"] for row in rows] == ["requests", "req/s"]
    assert rows[0]["value"] == 0 and rows[0]["reference"] == 0
    assert rows[1]["value"] > 0 and rows[1]["reference"] > 0 and rows[1]["ratio"] > 0
