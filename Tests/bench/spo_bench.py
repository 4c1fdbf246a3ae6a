"""What the figure scripts that need an instance of their own share: starting and stopping a
`spo dev` instance in a state dir of its own (as Tests/e2e/conftest.py does), a generated
configuration of N services, psql, wrk and the FastCGI client of the e2e suite.

Progress goes to stderr; a figure script prints only its JSON rows on stdout.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "e2e"))

from e2e_support import fastcgi, wait_for  # noqa: E402,F401  (re-exported for the figure scripts)

QUICK = os.environ.get("BENCH_QUICK") == "1"
KIT = Path(os.environ.get("BENCH_KIT") or REPO.parent / "shared" / "bench")


def progress(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def row(figure: str, value: float, unit: str, reference: float, reference_label: str, better: str) -> str:
    """One figure row of the `make bench` table (the contract of Tests/bench/run)."""
    ratio = value / reference if reference else None
    return json.dumps({"figure": figure, "value": round(value, 3), "unit": unit, "reference": reference,
                       "reference_label": reference_label, "ratio": None if ratio is None else round(ratio, 3),
                       "better": better})


def spo_binary() -> str:
    path = os.path.abspath(os.environ.get("SPO_BIN") or REPO / ".build" / "release" / "spo")
    if not os.access(path, os.X_OK):
        raise SystemExit(f"spo binary not found at {path}: swift build -c release, or set SPO_BIN")
    return path


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(start: int, taken: set[int]) -> int:
    for port in range(start, start + 500):
        if port in taken or not _port_free(port):
            continue
        if any(os.path.exists(f"{d}/.s.PGSQL.{port}") for d in ("/tmp", "/var/run/postgresql")):
            continue
        return port
    raise RuntimeError(f"no free port from {start}")


class DevInstance:
    """`spo dev` with its own state dir and ports; a context manager that stops it on exit."""

    def __init__(self, label: str, environment: dict | None = None):
        self.binary = spo_binary()
        self.state_dir = tempfile.mkdtemp(prefix=f"spo-{label}-", dir="/tmp")
        os.chmod(self.state_dir, 0o755)  # initdb runs as postgres when we are root
        self.http_port = free_port(19080 + random.randrange(0, 400), set())
        self.pg_port = free_port(6498 + random.randrange(0, 400), {self.http_port})
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.output_path = self.state_dir + ".out"
        self.extra_environment = environment or {}
        self.process: subprocess.Popen | None = None
        self.env: dict = {}

    def __enter__(self) -> "DevInstance":
        progress(f"starting spo dev in {self.state_dir} (port {self.http_port})")
        output = open(self.output_path, "wb")
        self.process = subprocess.Popen(
            [self.binary, "dev", "--state-dir", self.state_dir, "--port", str(self.http_port),
             "--pg-port", str(self.pg_port)],
            cwd=str(REPO), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **self.extra_environment}, start_new_session=True)
        import requests

        def started():
            if self.process.poll() is not None:
                raise SystemExit(f"spo dev exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            if not os.path.exists(self.state_dir + "/env"):
                return False
            try:
                return requests.get(self.url + "/api/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(started, 180, interval=0.2, message="spo dev to answer")
        self.env = parse_env(self.state_dir + "/env")
        os.environ["PGPASSFILE"] = self.env["PGPASSFILE"]
        self.wait_pool()
        return self

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if exc[0] is None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            os.unlink(self.output_path)
        else:
            progress(f"kept {self.state_dir} and {self.output_path} for a look")

    def output(self) -> str:
        return Path(self.output_path).read_text(errors="replace")

    @property
    def admin_key(self) -> str:
        return self.env["SPO_ADMIN_KEY"]

    def slots(self) -> list[str]:
        """The unix socket paths of the upstream block's server lines (one per worker)."""
        text = Path(self.state_dir, "nginx", "spo.conf").read_text()
        block = re.search(r"\bupstream\s+spo_pool\s*\{(.*?)\}", text, re.S).group(1)
        return re.findall(r"^\s*server\s+unix:(\S+?)[\s;]", block, re.M)

    def direct_path(self, slot: str) -> str:
        """The worker's own socket (the line's socket is the pool's shared queue)."""
        return slot + ".direct"

    def wait_pool(self, timeout: float = 60):
        def ready():
            for slot in self.slots():
                try:
                    if fastcgi(self.direct_path(slot), "GET", "/api/health",
                               headers={"Authorization": "Bearer " + self.admin_key}).status != 200:
                        return False
                except OSError:
                    return False
            return True

        wait_for(ready, timeout, interval=0.1, message="every worker to answer")

    def psql(self, sql: str, db: str = "spo") -> str:
        result = subprocess.run(
            ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.env["PGHOST"], "-p",
             self.env["PGPORT"], "-U", self.env["PGUSER"], "-d", db],
            input=sql, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout

    def spo(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=600, input=input,
                                cwd=str(REPO), env={**os.environ, **self.env})
        if result.returncode != 0:
            raise RuntimeError(f"spo {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def import_services(self, document: dict):
        self.spo("services", "import", "-", "--control", self.env["SPO_CONTROL_DB"], input=json.dumps(document))

    def create_key(self, name: str, role: str, grants: list[str]) -> str:
        arguments = ["keys", "create", "--name", name, "--role", role, "--control", self.env["SPO_CONTROL_DB"]]
        for grant in grants:
            arguments += ["--grant", grant]
        return self.spo(*arguments).strip().splitlines()[-1]

    def service_count(self) -> int:
        return int(self.psql("SELECT count(*) FROM spo.service").strip())


def parse_env(path: str) -> dict:
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            parts = shlex.split(value)
            env[name] = parts[0] if parts else ""
    return env


SCALE_PREFIX = "scale_"


def scale_services(count: int) -> dict:
    """`count` services over the example routines of the dev instance (demo.get_customer and
    demo.search_customers), each with a description and typed, bounded parameters, named
    scale_0001, …: a document of the size a large deployment has."""
    services = []
    for index in range(1, count + 1):
        name = f"{SCALE_PREFIX}{index:04d}"
        if index % 2:
            services.append({
                "name": name, "description": f"Generated service {index}: one customer by id",
                "connection": "demo", "procedure": "demo.get_customer",
                "parameters": [{"name": "p_id", "type": "integer", "required": True, "minimum": 1,
                                "maximum": 2147483647, "description": "Customer id"}],
                "timeout_ms": 5000, "retry_policy": "default"})
        else:
            services.append({
                "name": name, "description": f"Generated service {index}: customers by name and balance",
                "connection": "demo", "procedure": "demo.search_customers",
                "parameters": [
                    {"name": "p_name", "type": "text", "required": False, "maxLength": 100,
                     "description": "Part of the name"},
                    {"name": "p_min_balance", "type": "numeric", "default": 0, "minimum": 0,
                     "description": "Lowest balance"},
                    {"name": "p_limit", "type": "integer", "default": 10, "minimum": 1, "maximum": 100,
                     "description": "How many at most"}],
                "timeout_ms": 5000, "retry_policy": "default"})
    return {"services": services}


def wrk(url: str, path: str, auth: str, seconds: int, connections: int = 64) -> tuple[float, float, int]:
    """wrk with the bench kit's execute.lua (POST {"p_id": n}): requests/s, p99 ms and failures."""
    environment = dict(os.environ, BENCH_PATH=path, BENCH_AUTH=auth)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(KIT / "execute.lua"), url],
        env=environment, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*timeout (\d+)", out)
    return rps, p99_ms, (int(bad.group(1)) if bad else 0) + (int(errors.group(1)) if errors else 0)


def median(values) -> float:
    return statistics.median(values)
