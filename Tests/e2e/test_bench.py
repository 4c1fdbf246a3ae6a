"""`make bench`'s machinery, never its speed: the table Tests/bench/table renders from figure rows,
the contract every figure script keeps (Tests/bench/figures/NN-name), and one short run of
Tests/bench/run (BENCH_QUICK=1) with the hot-path and memory figures and two broken ones, which
must show as FAILED rows, not go missing. No figure's value is asserted beyond its being a number.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from e2e_support import REPO  # noqa: E402

BENCH = REPO / "Tests" / "bench"
FIGURES = BENCH / "figures"
TABLE = BENCH / "table"

SAMPLE = [
    {"figure": "hot path throughput, 64 connections, sync audit commit", "value": 3012.4, "unit": "req/s",
     "reference": 3500, "reference_label": "C reference", "better": "higher"},
    {"figure": "openapi.json, 1,000 services", "value": 12.3, "unit": "ms", "reference": 50,
     "reference_label": "target", "ratio": 0.246, "better": "lower"},
    {"figure": "instructions per request, one worker", "value": 132600, "unit": "instructions",
     "reference": 61000, "reference_label": "C reference", "better": "lower", "verdict": "no target"},
    {"figure": "40-config-scale", "failed": "exit 1: the instance did not start"},
]


def render(rows: list[dict], directory: str) -> tuple[subprocess.CompletedProcess, dict]:
    path, out = os.path.join(directory, "rows.jsonl"), os.path.join(directory, "bench.json")
    with open(path, "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    result = subprocess.run([str(TABLE), path, "--json", out, "--meta", '{"load_average_start": "1.00"}'],
                            capture_output=True, text=True, timeout=30)
    with open(out) as f:
        return result, json.load(f)


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "|" in line or line.startswith("-")]


def test_table_aligns_columns_and_works_out_ratios_and_verdicts():
    with tempfile.TemporaryDirectory() as directory:
        result, written = render(SAMPLE[:3], directory)
    assert result.returncode == 0, result.stderr
    lines = table_lines(result.stdout)
    assert lines[0].split("|")[0].strip() == "figure"
    assert [cell.strip() for cell in lines[0].split("|")] == ["figure", "SPOrchestrator", "reference", "ratio",
                                                             "verdict"]
    # Aligned: every row's column separators stand where the header's do.
    header_bars = [i for i, c in enumerate(lines[0]) if c == "|"]
    for line in lines[2:]:
        assert [i for i, c in enumerate(line) if c == "|"] == header_bars, line
    assert set(lines[1]) <= {"-", "+"}
    throughput, openapi, instructions = lines[2:5]
    assert "3,012 req/s" in throughput and "3,500 req/s (C reference)" in throughput
    assert "0.86 ×" in throughput and "misses (higher is better)" in throughput
    assert "12.3 ms" in openapi and "50 ms (target)" in openapi and "0.25 ×" in openapi
    assert "meets (lower is better)" in openapi
    assert "132,600 instructions" in instructions and "no target" in instructions
    rows = written["rows"]
    assert written["load_average_start"] == "1.00"
    assert [row["figure"] for row in rows] == [row["figure"] for row in SAMPLE[:3]]
    assert rows[0]["ratio"] == pytest.approx(3012.4 / 3500)  # worked out when the row leaves it out
    assert rows[1]["ratio"] == 0.246  # kept when the row gives it
    assert [row["verdict"] for row in rows] == ["misses", "meets", "no target"]


def test_a_failed_figure_is_a_failed_row_and_a_failing_exit():
    with tempfile.TemporaryDirectory() as directory:
        result, written = render(SAMPLE, directory)
    assert result.returncode == 1
    failed = table_lines(result.stdout)[-1]
    assert failed.startswith("40-config-scale") and "FAILED" in failed
    assert "failed: exit 1: the instance did not start" in failed
    assert written["rows"][-1]["verdict"] == "FAILED"


def test_a_line_that_is_not_a_figure_row_is_refused():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "rows.jsonl")
        with open(path, "w") as f:
            f.write('{"value": 1}\n')
        result = subprocess.run([str(TABLE), path], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "not a figure row" in result.stderr


def figure_scripts() -> list[str]:
    return sorted(name for name in os.listdir(FIGURES) if not name.startswith("."))


@pytest.mark.parametrize("name", figure_scripts())
def test_every_figure_script_keeps_the_contract(name):
    path = FIGURES / name
    assert re.fullmatch(r"\d\d-[a-z0-9-]+", name), f"{name}: figure scripts are named NN-name"
    assert os.stat(path).st_mode & stat.S_IXUSR, f"{name} is not executable"
    first = path.read_text().splitlines()[0]
    assert first.startswith("#!"), f"{name} has no #! line"
    if "python" in first:
        check = [sys.executable, "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", str(path)]
    elif "bash" in first or first.endswith("/sh"):
        check = ["bash", "-n", str(path)]
    else:
        pytest.fail(f"{name}: {first} is neither Python nor bash")
    result = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["10-hot-path", "15-cpu-split", "20-instructions", "25-memory"])
def test_a_hot_path_figure_outside_make_bench_says_how_to_run_it(name):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "SPO_", "PG"))}
    result = subprocess.run([str(FIGURES / name)], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode != 0
    assert "run it through Tests/bench/run" in result.stderr
    usage = subprocess.run([str(FIGURES / name), "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and f"Figure {int(name[:2])}" in usage.stdout


def test_a_quick_bench_run_prints_one_table_with_every_figure_and_the_failed_ones(tmp_path):
    """Tests/bench/run with BENCH_QUICK=1 on its own instance (state dir and ports of its own) and
    the reference: 10-hot-path and 25-memory give their rows, a figure that exits 1 and one that
    prints nothing each give a FAILED row, and the run exits 1."""
    figures = tmp_path / "figures"
    figures.mkdir()
    for name in ("10-hot-path", "25-memory"):
        os.symlink(FIGURES / name, figures / name)
    (figures / "90-broken").write_text("#!/usr/bin/env bash\necho 'cannot measure: no such table' >&2\nexit 3\n")
    (figures / "95-silent").write_text("#!/usr/bin/env bash\necho 'done' >&2\n")
    for name in ("90-broken", "95-silent"):
        os.chmod(figures / name, 0o755)
    state = tempfile.mkdtemp(prefix="spo-bt-", dir="/tmp")
    os.chmod(state, 0o755)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "PG"))}
    environment.update(BENCH_QUICK="1", BENCH_STATE_DIR=state, BENCH_FIGURES_DIR=str(figures), BENCH_WORKERS="2",
                       SPO_BIN=os.environ.get("SPO_BIN") or str(REPO / ".build" / "release" / "spo"))
    written = None
    kit = Path(os.environ.get("BENCH_KIT") or REPO.parent / "shared" / "bench")
    environment["BENCH_KIT"] = str(kit)
    if not (kit / "reference" / "run").exists():
        # A clone without the benchmark kit beside it: make bench says what to do and measures nothing.
        result = subprocess.run([str(BENCH / "run")], capture_output=True, text=True, env=environment, timeout=60)
        subprocess.run(["rm", "-rf", state])
        assert result.returncode == 1 and "bench kit not found" in result.stderr, result.stderr
        assert "set BENCH_KIT" in result.stderr
        return
    try:
        result = subprocess.run([str(BENCH / "run")], capture_output=True, text=True, env=environment, timeout=900)
        if os.path.exists(os.path.join(state, "bench.json")):
            with open(os.path.join(state, "bench.json")) as f:
                written = json.load(f)
    finally:
        subprocess.run([str(BENCH / "instance"), "stop", state], capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", state])
    assert result.returncode == 1, result.stdout + result.stderr[-5000:]
    lines = table_lines(result.stdout)
    figures_shown = [line.split("|")[0].strip() for line in lines[2:]]
    assert figures_shown == [
        "hot path throughput, 64 connections, sync audit commit",
        "hot path p99, 64 connections, sync audit commit",
        "hot path throughput, 64 connections, async audit commit",
        "hot path p99, 64 connections, async audit commit",
        "worker RSS at steady state (largest of 2, after 20,000 requests)",
        "worker RSS growth over 20,000 requests (largest)",
        "90-broken",
        "95-silent",
    ], result.stdout
    assert "exit 3: cannot measure: no such table" in lines[-2] and "FAILED" in lines[-2]
    assert "printed no row" in lines[-1] and "FAILED" in lines[-1]
    assert "load average" in result.stdout
    # Progress went to stderr, one step per figure.
    for index, name in enumerate(["10-hot-path", "25-memory", "90-broken", "95-silent"], 1):
        assert f"[{index}/4] {name}" in result.stderr
    assert written is not None, "no bench.json"
    rows = written["rows"]
    assert len(rows) == 8 and written["quick"] is True and written["workers"] == 2
    for row in rows[:6]:
        assert isinstance(row["value"], (int, float)) and isinstance(row["reference"], (int, float)), row
        assert row["value"] >= 0 and row["reference"] > 0 and row["better"] in ("lower", "higher"), row
        assert row["verdict"] in ("meets", "misses"), row
    assert [row["reference_label"] for row in rows[:6]] == ["C reference"] * 4 + ["target"] * 2
    assert [row["unit"] for row in rows[:6]] == ["req/s", "ms", "req/s", "ms", "MB", "MB"]
    # A worker's RSS is a plausible size, not zero (it was read from /proc).
    assert 1 < rows[4]["value"] < 2000
    assert [row["verdict"] for row in rows[6:]] == ["FAILED", "FAILED"]
