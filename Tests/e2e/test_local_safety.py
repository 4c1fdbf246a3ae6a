"""The local instance is safe on a shared machine: PostgreSQL wants a password that only the
instance's users can read, its socket and the pool's sockets are reachable only by the users that
need them, nothing that handles a request runs as root, and no password is on a command line.
Checked as the system reports it (stat, pg_hba_file_rules, ps) and, when the suite runs as root,
as other Unix users (`runuser`): nobody, and nginx's worker user where it must be refused."""

from __future__ import annotations

import grp
import os
import pwd
import random
import shutil
import signal
import stat
import subprocess
import tempfile

import requests
from conftest import _free_port, _parse_env
from e2e_support import REPO, postgres_binaries, processes, wait_for

ROOT = os.geteuid() == 0
POOL_USER, NGINX_USER = "spo", "spo-www"
CONNECT = "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(sys.argv[1])"


def _pg_socket_dir(spo) -> str:
    return spo.env["PGHOST"]


def _password(spo) -> str:
    line = open(spo.env["PGPASSFILE"]).read().strip()
    return line.rsplit(":", 1)[1]


def _as_user(user: str, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """argv run as another Unix user, with a bare environment (no PGPASSFILE, no password)."""
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, text=True, timeout=60,
                          cwd="/", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})})


def _psql(spo, *, env: dict, user: str | None = None) -> subprocess.CompletedProcess:
    argv = ["psql", "-X", "-At", "-h", _pg_socket_dir(spo), "-p", spo.env["PGPORT"], "-U", spo.env["PGUSER"],
            "-d", "spo", "-c", "SELECT 1"]
    if user is not None:
        return _as_user(user, *argv, env=env)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", **env})


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_socket_directories_and_sockets_are_reachable_only_by_the_users_that_need_them(spo):
    run, pg = spo.run_dir, _pg_socket_dir(spo)
    sockets = [os.path.join(run, name) for name in os.listdir(run)
               if stat.S_ISSOCK(os.lstat(os.path.join(run, name)).st_mode)]
    assert os.path.join(run, "spo_pool.sock") in sockets and spo.direct_path("w0") in sockets
    pg_socket = os.path.join(pg, f".s.PGSQL.{spo.env['PGPORT']}")
    assert stat.S_ISSOCK(os.lstat(pg_socket).st_mode)

    for path in sockets:
        assert _mode(path) == 0o660, (path, oct(_mode(path)))
    assert _mode(pg_socket) == 0o770
    if ROOT:
        pool, nginx = pwd.getpwnam(POOL_USER), pwd.getpwnam(NGINX_USER)
        # The pool's directory: its workers write their journals there; nginx's group passes through.
        assert (os.stat(run).st_uid, os.stat(run).st_gid, _mode(run)) == (pool.pw_uid, nginx.pw_gid, 0o2750)
        # PostgreSQL's: only the pool's group gets in.
        info = os.stat(pg)
        assert (info.st_uid, info.st_gid, _mode(pg)) == (pwd.getpwnam("postgres").pw_uid, pool.pw_gid, 0o2750)
        for path in sockets:
            assert os.lstat(path).st_gid == nginx.pw_gid, path
        assert os.lstat(pg_socket).st_gid == pool.pw_gid
    else:
        for directory in (run, pg):
            assert os.stat(directory).st_uid == os.getuid() and _mode(directory) == 0o700, directory
    # Nothing of the instance is open to every user: no directory others may list or write, no
    # file others may read or write.
    for directory, subdirectories, files in os.walk(spo.state_dir):
        assert _mode(directory) & 0o006 == 0, (directory, oct(_mode(directory)))
        for name in files:
            path = os.path.join(directory, name)
            assert _mode(path) & 0o006 == 0 or stat.S_ISLNK(os.lstat(path).st_mode), (path, oct(_mode(path)))


def test_other_users_reach_neither_postgres_nor_the_pool(spo):
    pool_socket = os.path.join(spo.run_dir, "spo_pool.sock")
    if not ROOT:
        # No second user to try with: the modes above are what keeps them out.
        assert _mode(spo.run_dir) & 0o077 == 0 and _mode(_pg_socket_dir(spo)) & 0o077 == 0
        return
    for user in ("nobody", NGINX_USER):
        refused = _psql(spo, env={}, user=user)
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, (user, refused.stderr)
    refused = _as_user("nobody", "/usr/bin/python3", "-c", CONNECT, pool_socket)
    assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stderr
    refused = _as_user("nobody", "/usr/bin/python3", "-c", CONNECT, spo.direct_path("w0"))
    assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stderr
    # nginx's worker user is the one that does get in.
    reached = _as_user(NGINX_USER, "/usr/bin/python3", "-c", CONNECT, pool_socket)
    assert reached.returncode == 0, reached.stderr
    # The password file is the pool's alone.
    unread = _as_user(NGINX_USER, "/bin/cat", spo.env["PGPASSFILE"])
    assert unread.returncode != 0 and "Permission denied" in unread.stderr


def test_postgres_wants_the_password_from_the_instance_pgpass(spo):
    assert spo.psql("SELECT DISTINCT auth_method FROM pg_hba_file_rules").split() == ["scram-sha-256"]
    assert spo.psql("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method IN ('trust', 'password')").strip() == "0"
    assert spo.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = current_user",
                    db="postgres").strip() == "t"
    # Through the socket, as the user that can reach it, without the password file: refused.
    for env in ({"PGPASSFILE": "/dev/null"}, {"PGPASSFILE": "/dev/null", "PGPASSWORD": "not-the-password"}):
        refused = _psql(spo, env=env)
        assert refused.returncode != 0, refused.stdout
        assert "password" in refused.stderr and "authentication failed" in refused.stderr or \
            "no password supplied" in refused.stderr, refused.stderr
    allowed = _psql(spo, env={"PGPASSFILE": spo.env["PGPASSFILE"]})
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "1"), allowed.stderr


def test_credential_files_are_private(spo):
    pgpass, env = spo.env["PGPASSFILE"], os.path.join(spo.state_dir, "env")
    for path in (pgpass, env):
        assert stat.S_ISREG(os.lstat(path).st_mode) and _mode(path) == 0o600, (path, oct(_mode(path)))
    expected_owner = pwd.getpwnam(POOL_USER).pw_uid if ROOT else os.getuid()
    assert os.stat(pgpass).st_uid == expected_owner
    password = _password(spo)
    assert len(password) >= 32 and all(c in "0123456789abcdef" for c in password)
    assert password not in open(env).read()
    # The cluster's own files hold no copy in the clear (initdb's password file is gone).
    assert not os.path.exists(os.path.join(spo.state_dir, "initdb-password"))


def test_no_process_handling_requests_runs_as_root_and_no_password_is_on_a_command_line(spo):
    spo.wait_pool(timeout=20)
    listing = subprocess.run(["ps", "-eo", "user:32=,pid=,args="], capture_output=True, text=True, check=True).stdout
    users = {}
    for line in listing.splitlines():
        user, pid, *_ = line.split(None, 2)
        users[int(pid)] = user
    ours = {p.pid: p for p in spo.own_processes()}
    workers = spo.workers()
    assert workers
    master = next(p for p in ours.values() if p.argv and p.argv[0].startswith("nginx: master"))
    nginx_workers = [p for p in processes() if p.ppid == master.pid]
    postgres = [p for p in ours.values() if p.argv and (p.argv[0].startswith("postgres") or
                                                         p.argv[0].endswith("/postgres"))]
    assert nginx_workers and postgres
    me = pwd.getpwuid(os.getuid()).pw_name
    expected = {"worker": POOL_USER if ROOT else me, "nginx": NGINX_USER if ROOT else me,
                "postgres": "postgres" if ROOT else me}
    for pid in workers.values():
        assert users[pid] == expected["worker"], (pid, users[pid])
    # The supervisor too, once its sockets are bound (its user can run spo and read the site file).
    assert users[spo.supervisor_pid()] == expected["worker"]
    for p in nginx_workers:
        assert users[p.pid] == expected["nginx"], (p.cmdline, users[p.pid])
    for p in postgres:
        assert users[p.pid] == expected["postgres"], (p.cmdline, users[p.pid])
    # A worker that switched user cannot switch back: its saved user id is the pool's too.
    with open(f"/proc/{next(iter(workers.values()))}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    expected_uid = str(pwd.getpwnam(POOL_USER).pw_uid if ROOT else os.getuid())
    assert uid_line.split()[1:] == [expected_uid] * 4
    groups = grp.getgrgid(os.stat(spo.run_dir).st_gid).gr_name
    assert groups == (NGINX_USER if ROOT else grp.getgrgid(os.getgid()).gr_name)
    # Nothing secret on any command line of the machine.
    assert _password(spo) not in listing
    assert spo.env["SPO_ADMIN_KEY"] not in listing


def test_a_cluster_made_with_trust_by_an_older_version_gets_a_password(spo):
    """A `.spo/` from before: its cluster trusts every local user. The next `spo dev` gives the
    superuser a password (single-user mode, nothing listening) before PostgreSQL accepts anyone."""
    state = tempfile.mkdtemp(prefix="spo-old-", dir="/tmp")
    os.chmod(state, 0o755)
    owner = ["runuser", "-u", "postgres", "--"] if ROOT else []
    os.mkdir(state + "/pg")
    if ROOT:
        shutil.chown(state + "/pg", "postgres", "postgres")
    subprocess.run([*owner, postgres_binaries() + "/initdb", "-D", state + "/pg", "-U", spo.env["PGUSER"], "-A",
                    "trust", "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=120)
    http_port = _free_port(20080 + random.randrange(0, 400), {spo.http_port})
    pg_port = _free_port(6100 + random.randrange(0, 400), {http_port, spo.pg_port}, unix_socket_dir=state + "/pgsocket")
    output = open(state + ".out", "wb")
    process = subprocess.Popen([spo.spo_bin, "dev", "--state-dir", state, "--port", str(http_port), "--pg-port",
                                str(pg_port)], cwd=str(REPO), stdout=output, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)

    def serving():
        assert process.poll() is None, open(state + ".out").read()
        try:
            return os.path.exists(state + "/env") and \
                requests.get(f"http://127.0.0.1:{http_port}/api/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(serving, 120, interval=0.2, message="the upgraded instance to serve")
        env = _parse_env(state + "/env")
        pgpass = env["PGPASSFILE"]
        assert _mode(pgpass) == 0o600
        base = ["psql", "-X", "-At", "-h", env["PGHOST"], "-p", env["PGPORT"], "-U", env["PGUSER"], "-d", "spo"]
        clean = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
        rules = subprocess.run([*base, "-c", "SELECT DISTINCT auth_method FROM pg_hba_file_rules"], text=True,
                               capture_output=True, timeout=60, env={**clean, "PGPASSFILE": pgpass})
        assert (rules.returncode, rules.stdout.split()) == (0, ["scram-sha-256"]), rules.stderr
        refused = subprocess.run([*base, "-c", "SELECT 1"], text=True, capture_output=True, timeout=60,
                                 env={**clean, "PGPASSFILE": "/dev/null"})
        assert refused.returncode != 0 and "no password supplied" in refused.stderr, refused.stderr
        assert open(pgpass).read().strip().rsplit(":", 1)[1] not in open(state + ".out").read()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        output.close()
        shutil.rmtree(state, ignore_errors=True)
        os.unlink(state + ".out")
    assert process.returncode == 0


def test_a_checkout_other_users_cannot_enter_still_serves_everything(spo):
    """A checkout under a private directory (a home directory, /root): nginx's workers and
    PostgreSQL cannot enter it, so the cluster, sockets and pgpass file live under /var/tmp and
    nginx serves copies of the admin page and Swagger UI — still private to their users."""
    private = tempfile.mkdtemp(prefix="spo-private-", dir="/tmp")
    os.chmod(private, 0o700)
    checkout = os.path.join(private, "checkout")
    for part in ("www", "nginx", "examples", ".build/swagger-ui"):
        shutil.copytree(REPO / part, os.path.join(checkout, part))
    state = os.path.join(checkout, ".spo")
    http_port = _free_port(20500 + random.randrange(0, 400), {spo.http_port})
    pg_port = _free_port(6600 + random.randrange(0, 400), {http_port, spo.pg_port})
    output = open(private + ".out", "wb")
    process = subprocess.Popen([spo.spo_bin, "dev", "--state-dir", state, "--port", str(http_port), "--pg-port",
                                str(pg_port)], cwd=checkout, stdout=output, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    base_url = f"http://127.0.0.1:{http_port}"
    cluster = None

    def serving():
        assert process.poll() is None, open(private + ".out").read()
        try:
            return os.path.exists(state + "/env") and requests.get(base_url + "/api/health", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(serving, 120, interval=0.2, message="the instance in a private checkout to serve")
        env = _parse_env(state + "/env")
        cluster = os.path.dirname(env["PGHOST"])
        if ROOT:
            assert cluster.startswith("/var/tmp/spo-dev-") and env["PGPASSFILE"] == cluster + "/pgpass"
            assert os.stat(env["PGPASSFILE"]).st_uid == pwd.getpwnam(POOL_USER).pw_uid
        assert _mode(env["PGPASSFILE"]) == 0o600 and _mode(env["PGHOST"]) & 0o007 == 0
        assert requests.get(base_url + "/admin/", timeout=10).status_code == 200
        assert requests.get(base_url + "/docs/", timeout=10).status_code == 200
        executed = requests.post(base_url + "/api/services/customer_get/execute", json={"p_id": 3}, timeout=30,
                                 headers={"Authorization": "Bearer " + env["SPO_ADMIN_KEY"]})
        assert executed.status_code == 200, executed.text
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        output.close()
        shutil.rmtree(private, ignore_errors=True)
        os.unlink(private + ".out")
        if cluster and cluster.startswith("/var/tmp/spo-dev-"):
            shutil.rmtree(cluster, ignore_errors=True)
    assert process.returncode == 0
