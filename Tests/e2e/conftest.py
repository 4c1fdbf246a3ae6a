"""One `spo dev` instance for the whole session: throwaway PostgreSQL cluster, control schema,
example services, the pool and nginx, in a fresh state dir under /tmp (unix socket paths are
limited to 107 bytes, so the path is short).

Run:  SPO_BIN=.build/release/spo /usr/bin/python3 -m pytest -q Tests/e2e
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))

import e2e_support  # noqa: E402
from e2e_support import REPO, Instance, is_alive, wait_for  # noqa: E402

START_TIMEOUT = 120
STOP_TIMEOUT = 30


def _tcp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(start: int, taken: set[int], unix_socket_dir: str | None = None) -> int:
    """The first port from `start` that nothing listens on (and, for PostgreSQL, whose
    /tmp/.s.PGSQL.N and /var/run/postgresql/.s.PGSQL.N sockets do not exist either)."""
    for port in range(start, start + 500):
        if port in taken or not _tcp_port_free(port):
            continue
        if unix_socket_dir is not None and any(
            os.path.exists(f"{d}/.s.PGSQL.{port}") for d in ("/tmp", "/var/run/postgresql", unix_socket_dir)
        ):
            continue
        return port
    raise RuntimeError(f"no free port in {start}..{start + 499}")


def _spo_binary() -> str:
    path = os.environ.get("SPO_BIN") or str(REPO / ".build" / "release" / "spo")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        pytest.exit(f"spo binary not found at {path}: build it (swift build -c release) or set SPO_BIN", 2)
    return path


def _parse_env(path: str) -> dict:
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("export "):
                continue
            name, _, value = line[len("export "):].partition("=")
            parts = shlex.split(value)
            env[name] = parts[0] if parts else ""
    return env


@pytest.fixture(scope="session")
def spo():
    binary = _spo_binary()
    state_dir = tempfile.mkdtemp(prefix="spo-e2e-", dir="/tmp")
    # initdb runs as the postgres user (we are root): it must be able to enter the state dir.
    os.chmod(state_dir, 0o755)
    # A random start, so that two runs at the same time do not both pick the first free port
    # (nothing listens on it until spo dev has started nginx, seconds later).
    http_port = _free_port(18080 + random.randrange(0, 400), set())
    pg_port = _free_port(5498 + random.randrange(0, 400), {http_port}, unix_socket_dir=state_dir + "/pgsocket")
    output_path = state_dir + ".out"
    output = open(output_path, "wb")
    # Connection secrets the pool may read (test_secrets.py): a file of a secrets directory and a
    # prefixed variable, both random.
    secrets = e2e_support.plant_secrets(state_dir + ".secrets")
    process = subprocess.Popen(
        [binary, "dev", "--state-dir", state_dir, "--port", str(http_port), "--pg-port", str(pg_port)],
        cwd=str(REPO), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        # A browser origin allowed to call the gateway endpoints (test_cors.py).
        env={**os.environ, **secrets.environment, "SPO_CORS_ORIGINS": e2e_support.CORS_ORIGIN},
        start_new_session=True,  # Ctrl-C on pytest must not reach it before the teardown does
    )
    base_url = f"http://127.0.0.1:{http_port}"
    instance = Instance(base_url=base_url, state_dir=state_dir, env={}, http_port=http_port, pg_port=pg_port,
                        spo_bin=binary, process=process, output_path=output_path, secrets=secrets)

    def started():
        if process.poll() is not None:
            raise AssertionError(f"spo dev exited with {process.returncode} before serving:\n{instance.output()}")
        if not os.path.exists(state_dir + "/env"):
            return False
        try:
            return requests.get(base_url + "/api/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        try:
            wait_for(started, START_TIMEOUT, interval=0.2, message="GET /api/health to answer 200")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- spo dev output ---\n{instance.output()}") from None
        instance.env = _parse_env(state_dir + "/env")
        # As after `. .spo/env`: psql and the spo commands the tests start find the password there.
        os.environ["PGPASSFILE"] = instance.env["PGPASSFILE"]
        assert instance.env["SPO_URL"] == base_url
        assert instance.env["SPO_ADMIN_KEY"].startswith("spo_")
        e2e_support.AUTH["Authorization"] = "Bearer " + instance.env["SPO_ADMIN_KEY"]
        e2e_support.authorize_requests(base_url)
        instance.original_site = open(instance.site_path).read()
        instance.wait_pool(timeout=30)

        yield instance
    finally:
        _teardown(instance, output)


def _teardown(instance: Instance, output):
    process, state_dir = instance.process, instance.state_dir
    ours = instance.own_processes()
    problems = []
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            problems.append(f"spo dev did not stop within {STOP_TIMEOUT} s of SIGINT")
    else:
        problems.append(f"spo dev had already exited with {process.returncode}")

    # What stopping must leave behind: nothing. Descendants get a moment to be reaped.
    def survivors():
        left = [p for p in ours if p.pid != process.pid and is_alive(p)]
        left += [p for p in instance.own_processes() if p.pid != process.pid and p not in left]
        return left

    try:
        wait_for(lambda: not survivors(), 5, interval=0.1, message="the instance's processes to exit")
    except AssertionError:
        left = survivors()
        problems.append("processes survived the stop:\n" + "\n".join(f"  {p.pid} {p.cmdline}" for p in left))
        for p in left:  # clean up anyway, so the machine stays usable
            try:
                os.kill(p.pid, signal.SIGKILL)
            except OSError:
                pass
    if process.poll() is None:
        process.kill()
        process.wait()
    output.close()
    text = instance.output()
    if problems:
        print(f"\n--- spo dev output ({instance.output_path}) ---\n{text[-20000:]}", file=sys.stderr)
    else:
        shutil.rmtree(state_dir, ignore_errors=True)
        os.unlink(instance.output_path)
    shutil.rmtree(instance.secrets.directory, ignore_errors=True)
    assert not problems, "\n".join(problems)


@pytest.fixture
def pool(spo):
    """The instance, with the pool back to its configured size and every worker answering
    (tests before may have killed, added or removed workers)."""
    spo.wait_pool(timeout=20)
    return spo


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Selenium, for the admin page tests (see browser_support.py).
    Never skipped: without the browser the page is untested, so the run fails and says how to fix it."""
    try:
        import browser_support
    except ImportError as error:
        pytest.fail(f"Selenium is missing ({error}): `make test` installs chromium, chromium-driver and "
                    "python3-selenium", pytrace=False)
    try:
        driver = browser_support.make_driver()
    except browser_support.BrowserMissing as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield driver
    finally:
        driver.quit()
