"""Helpers for the end-to-end suite: processes of one `spo dev` instance, a tiny FastCGI client
(to ask one specific worker directly, bypassing nginx), load generation and waiting.

Only the standard library and `requests`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]

# The local instance requires an API key (spo dev creates an admin key); the session fixture puts
# it here and every request of the suite carries it unless the test sends its own Authorization.
AUTH: dict[str, str] = {}
# The one browser origin the suite's instance allows (SPO_CORS_ORIGINS).
CORS_ORIGIN = "https://gateway.example.test"


def authorize_requests(base_url: str):
    """Adds the suite's Authorization header to every `requests` call to `base_url` without one."""
    original = requests.sessions.Session.request
    if getattr(original, "_spo_authorizing", False):
        return

    def request(self, method, url, *args, **kwargs):
        if str(url).startswith(base_url) and AUTH:
            headers = dict(kwargs.get("headers") or {})
            if not any(name.lower() == "authorization" for name in headers):
                headers.update(AUTH)
            kwargs["headers"] = headers
        return original(self, method, url, *args, **kwargs)

    request._spo_authorizing = True
    requests.sessions.Session.request = request
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    start_time: int
    argv: tuple

    @property
    def cmdline(self) -> str:
        return " ".join(self.argv)


def processes() -> list[Proc]:
    """Every live (non-zombie) process, read from /proc."""
    result = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        state = rest[0]
        if state in ("Z", "X"):
            continue
        argv = tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)
        result.append(Proc(int(entry), int(rest[1]), state, int(rest[19]), argv))
    return result


def is_alive(proc: Proc) -> bool:
    """Whether this very process (same pid and start time) still runs and is not a zombie."""
    try:
        with open(f"/proc/{proc.pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    rest = stat[stat.rindex(")") + 2 :].split()
    return rest[0] not in ("Z", "X") and int(rest[19]) == proc.start_time


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def wait_for(predicate, timeout: float, interval: float = 0.01, message: str = "condition"):
    """Polls `predicate` until it returns a truthy value; returns it, or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def postgres_binaries() -> str:
    """Same choice as DevInstance.postgresBinaries: the newest /usr/lib/postgresql/N/bin with initdb."""
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True)
    for version in versions:
        if (version / "bin" / "initdb").exists():
            return str(version / "bin")
    raise RuntimeError("PostgreSQL server binaries not found")


# ------------------------------------------------------------------------------------------------
# A minimal FastCGI client: one request per connection (like nginx with fastcgi_keep_conn off).
# ------------------------------------------------------------------------------------------------

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 1, 3, 4, 5, 6, 7


def _record(kind: int, content: bytes, request_id: int = 1) -> bytes:
    padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), padding, 0) + content + b"\0" * padding


def _length(n: int) -> bytes:
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def _pairs(params: dict) -> bytes:
    out = b""
    for name, value in params.items():
        n, v = name.encode(), str(value).encode()
        out += _length(len(n)) + _length(len(v)) + n + v
    return out


@dataclass
class FCGIResponse:
    status: int
    headers: dict
    body: bytes
    stderr: bytes = b""

    def json(self):
        return json.loads(self.body)


def fastcgi(
    socket_path: str, method: str, uri: str, body: bytes = b"", headers: dict | None = None, timeout: float = 10.0
) -> FCGIResponse:
    """Sends one request straight to the worker listening on `socket_path`."""
    params = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": uri,
        "DOCUMENT_URI": uri,
        "REQUEST_URI": uri,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    for name, value in {**AUTH, **(headers or {})}.items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    message = _record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
    encoded = _pairs(params)
    for start in range(0, len(encoded), 65535):
        message += _record(FCGI_PARAMS, encoded[start : start + 65535])
    message += _record(FCGI_PARAMS, b"")
    for start in range(0, len(body), 65535):
        message += _record(FCGI_STDIN, body[start : start + 65535])
    message += _record(FCGI_STDIN, b"")

    stdout, stderr = b"", b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(socket_path)
        s.sendall(message)
        buffer = b""
        ended = False
        while not ended:
            chunk = s.recv(65536)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 8:
                _, kind, _, length, padding, _ = struct.unpack(">BBHHBB", buffer[:8])
                if len(buffer) < 8 + length + padding:
                    break
                content = buffer[8 : 8 + length]
                buffer = buffer[8 + length + padding :]
                if kind == FCGI_STDOUT:
                    stdout += content
                elif kind == FCGI_STDERR:
                    stderr += content
                elif kind == FCGI_END_REQUEST:
                    ended = True
                    break
    if not ended:
        raise ConnectionError(f"{socket_path}: the worker closed the connection without FCGI_END_REQUEST")
    head, _, payload = stdout.partition(b"\r\n\r\n")
    response_headers = {}
    status = 200
    for line in head.decode("latin-1").split("\r\n"):
        if not line:
            continue
        name, _, value = line.partition(":")
        value = value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            response_headers[name] = value
    return FCGIResponse(status, response_headers, payload, stderr)


# ------------------------------------------------------------------------------------------------
# The instance under test
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedSecrets:
    """Passwords the pool can read for a connection: `file:<file_name>` in `directory` (the pool's
    --secrets-dir, owned by the pool's user, 0600) and `env:<variable>`."""
    directory: str
    file_name: str
    file_value: str
    variable: str
    variable_value: str

    @property
    def environment(self) -> dict:
        return {"SPO_SECRETS_DIR": self.directory, self.variable: self.variable_value}


def plant_secrets(directory: str) -> PlantedSecrets:
    import pwd

    secrets = PlantedSecrets(directory=directory, file_name="e2e.pw", file_value="fileS3cret" + uuid.uuid4().hex,
                             variable="SPO_SECRET_E2E", variable_value="envS3cret" + uuid.uuid4().hex)
    os.mkdir(directory, 0o700)
    path = os.path.join(directory, secrets.file_name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(secrets.file_value + "\n")
    if os.geteuid() == 0:  # the pool's workers run as spo and must own what they read
        owner = pwd.getpwnam("spo")
        for target in (directory, path):
            os.chown(target, owner.pw_uid, owner.pw_gid)
    return secrets


@dataclass
class Instance:
    base_url: str
    state_dir: str
    env: dict
    http_port: int
    pg_port: int
    spo_bin: str
    process: subprocess.Popen
    output_path: str
    original_site: str = field(default="", repr=False)
    secrets: PlantedSecrets | None = field(default=None, repr=False)

    # -- paths ---------------------------------------------------------------------------------

    @property
    def run_dir(self) -> str:
        return os.path.join(self.state_dir, "run")

    @property
    def site_path(self) -> str:
        return os.path.join(self.state_dir, "nginx", "spo.conf")

    def socket_path(self, slot: str) -> str:
        return os.path.join(self.run_dir, f"{slot}.sock")

    def direct_path(self, slot: str) -> str:
        """The worker's own socket: a request sent there is served by that worker (the line's
        socket is the pool's shared queue, served by whichever worker is free)."""
        return self.socket_path(slot) + ".direct"

    def journal_paths(self, slot: str) -> list[str]:
        """The worker's journal slots: the execution running, and the one whose answer waits for
        its audit row's commit."""
        return [self.socket_path(slot) + ".inflight", self.socket_path(slot) + ".inflight.1"]

    def journal_records(self, slot: str) -> list[str]:
        """The record in each of the worker's journal slots ('' when empty; later bytes are stale)."""
        records = []
        for path in self.journal_paths(slot):
            try:
                with open(path) as f:
                    records.append(f.read().split("\n", 1)[0])
            except OSError:
                pass
        return records

    # -- SQL and the spo CLI ---------------------------------------------------------------------

    def psql(self, sql: str, db: str = "spo") -> str:
        result = subprocess.run(
            ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.env["PGHOST"], "-p", self.env["PGPORT"],
             "-U", self.env["PGUSER"], "-d", db, "-c", sql],
            capture_output=True, text=True, timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"psql failed ({result.returncode}): {sql}\n{result.stderr}")
        return result.stdout

    def spo(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.spo_bin, *args], capture_output=True, text=True, timeout=60, input=input, cwd=str(REPO),
            env={**os.environ, **self.env},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"spo {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def grant_services(self, connection: str = "demo", db: str = "demo") -> str:
        """Grants the connection's role what its registered services need, as ops do: the output
        of `spo grants` run on the target database (here as the superuser). Returns the grants."""
        grants = self.spo("grants", "--connection", connection).stdout
        self.psql(grants, db=db)
        return grants

    # -- HTTP ------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def execute(self, service: str, parameters: dict | None = None, session=None, **kwargs) -> requests.Response:
        client = session or requests
        kwargs.setdefault("timeout", 30)
        return client.post(self.url(f"/api/services/{service}/execute"), json=parameters or {}, **kwargs)

    def execute_on(self, slot: str, service: str, parameters: dict | None = None, headers=None) -> FCGIResponse:
        """Executes on one specific worker, straight over its FastCGI socket."""
        body = json.dumps(parameters or {}).encode()
        return fastcgi(self.direct_path(slot), "POST", f"/api/services/{service}/execute", body, headers)

    # -- processes ------------------------------------------------------------------------------

    def own_processes(self) -> list[Proc]:
        """Processes whose command line names the state dir (spo dev/serve/worker, nginx master,
        the postmaster), plus all their descendants (nginx workers, PostgreSQL backends)."""
        everything = processes()
        mine = {p.pid: p for p in everything if self.state_dir in p.cmdline}
        children: dict[int, list[Proc]] = {}
        for p in everything:
            children.setdefault(p.ppid, []).append(p)
        stack = list(mine)
        while stack:
            for child in children.get(stack.pop(), []):
                if child.pid not in mine:
                    mine[child.pid] = child
                    stack.append(child.pid)
        return list(mine.values())

    def supervisor_pid(self) -> int | None:
        for p in processes():
            if len(p.argv) > 1 and p.argv[1] == "serve" and self.state_dir in p.cmdline:
                return p.pid
        return None

    def workers(self) -> dict[str, int]:
        """Slot name (w0, w1, ...) → pid of the worker serving it, from the --journal argument."""
        result = {}
        prefix = self.run_dir + "/"
        for p in processes():
            if len(p.argv) < 2 or p.argv[1] != "worker" or "--journal" not in p.argv:
                continue
            journal = p.argv[p.argv.index("--journal") + 1]
            if not journal.startswith(prefix):
                continue
            slot = journal[len(prefix) :].removesuffix(".inflight").removesuffix(".sock")
            result[slot] = p.pid
        return result

    def upstream_slots(self) -> list[str]:
        """The slots named by the server lines of the rendered upstream block."""
        text = "\n".join(line.split("#", 1)[0] for line in Path(self.site_path).read_text().splitlines())
        block = re.search(r"\bupstream\s+spo_pool\s*\{(.*?)\}", text, re.S).group(1)
        paths = re.findall(r"^\s*server\s+unix:(\S+?)(?:\s[^;]*)?;", block, re.M)
        return [Path(p).name.removesuffix(".sock") for p in paths]

    def wait_pool(self, slots: list[str] | None = None, timeout: float = 15.0) -> dict[str, int]:
        """Waits until exactly the configured slots have a worker and every one of them answers."""
        wanted = sorted(slots or self.upstream_slots())

        def ready():
            current = self.workers()
            if sorted(current) != wanted:
                return None
            for slot in wanted:
                try:
                    if fastcgi(self.direct_path(slot), "GET", "/api/health", timeout=5).status != 200:
                        return None
                except OSError:
                    return None
            return current

        return wait_for(ready, timeout, interval=0.05, message=f"a pool of {wanted} answering /api/health")

    def output(self) -> str:
        try:
            return Path(self.output_path).read_text(errors="replace")
        except OSError:
            return ""


# ------------------------------------------------------------------------------------------------
# Load
# ------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    started: float
    finished: float
    status: int | None
    error: str | None = None
    body: str | None = None

    @property
    def latency(self) -> float:
        return self.finished - self.started


class Load:
    """`threads` clients, each with its own kept-alive requests.Session, posting to a service
    until stopped (or for at most `max_seconds`)."""

    def __init__(self, instance: Instance, threads: int, service: str = "customer_get", parameters=None,
                 max_seconds: float = 30.0, max_requests_per_thread: int = 100_000):
        self.instance = instance
        self.service = service
        self.parameters = parameters or (lambda n: {"p_id": 1 + n % 1000})
        self.max_seconds = max_seconds
        self.max_requests = max_requests_per_thread
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, index: int):
        session = requests.Session()
        url = self.instance.url(f"/api/services/{self.service}/execute")
        deadline = time.monotonic() + self.max_seconds
        local = []
        n = index
        while not self._stop.is_set() and time.monotonic() < deadline and len(local) < self.max_requests:
            started = time.monotonic()
            try:
                response = session.post(url, json=self.parameters(n), timeout=30)
                sample = Sample(started, time.monotonic(), response.status_code,
                                body=None if response.status_code == 200 else response.text[:500])
            except requests.RequestException as error:
                sample = Sample(started, time.monotonic(), None, error=repr(error))
                session = requests.Session()
            local.append(sample)
            n += 1
        session.close()
        with self._lock:
            self.samples.extend(local)

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.status != 200]


def correlation_id() -> str:
    return "e2e-" + uuid.uuid4().hex


def create_live_service(instance, document: dict, timeout: float = 10) -> dict:
    """POSTs a service document through the API and waits until every worker's configuration has
    it (live within a second); the stored document."""
    response = requests.post(instance.url("/api/services"), json=document, timeout=30)
    assert response.status_code == 201, response.text
    path = f"/api/services/{document['name']}/execute"

    def everywhere():
        for slot in instance.workers():
            answer = fastcgi(instance.direct_path(slot), "GET", "/api/openapi.json")
            if answer.status != 200 or path not in answer.json()["paths"]:
                return False
        return True

    wait_for(everywhere, timeout, interval=0.05, message=f"service {document['name']} live on every worker")
    return response.json()
