"""Secrets stay secret (issue 10, point 3): a connection password from the pool's secrets
directory and one from an SPO_SECRET_ variable, and a parameter marked sensitive, are used by
real calls — success, failure, reprocessing, asynchronous — and then searched for everywhere the
instance writes or shows anything: its files (logs, journals, spools, the cluster), every API
answer, every process's command line, every table of the control database. None holds them.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import requests

from e2e_support import create_live_service, processes, wait_for

SENSITIVE = "4111" + uuid.uuid4().hex[:12]  # what a card number would be
ASYNC = {"Prefer": "respond-async"}


def _psql_stdin(instance, sql: str, db: str) -> None:
    """Runs SQL given on standard input (a password in it never reaches a command line)."""
    env = instance.env
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", env["PGHOST"], "-p", env["PGPORT"], "-U", env["PGUSER"],
         "-d", db], input=sql, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Answers:
    """Every answer the test got, to search them afterwards."""

    def __init__(self):
        self.texts: list[str] = []

    def keep(self, response: requests.Response) -> requests.Response:
        self.texts.append(str(response.status_code) + " " + str(dict(response.headers)) + " " + response.text)
        return response


def _poll(instance, answers: Answers, execution_id: str, timeout: float = 30) -> dict:
    def settled():
        reply = answers.keep(requests.get(instance.url(f"/api/executions/{execution_id}"), timeout=10))
        body = reply.json()
        return body if body.get("status") not in ("queued", "running") else None

    return wait_for(settled, timeout, interval=0.1, message=f"execution {execution_id} to settle")


def _files_holding(root: str, values: list[str]) -> list[str]:
    found = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            found += [f"{path}: {value}" for value in values if value.encode() in data]
    return found


def test_passwords_and_sensitive_values_appear_nowhere(pool):
    secrets = pool.secrets
    tag = uuid.uuid4().hex[:8]
    schema, role_file, role_env, role_bad = f"sec_{tag}", f"sec_file_{tag}", f"sec_env_{tag}", f"sec_login_{tag}"
    answers = Answers()
    _psql_stdin(pool, f"""
        CREATE ROLE {role_file} LOGIN PASSWORD {_literal(secrets.file_value)};
        CREATE ROLE {role_env} LOGIN PASSWORD {_literal(secrets.variable_value)};
        CREATE ROLE {role_bad} LOGIN PASSWORD {_literal(secrets.variable_value)};
        CREATE SCHEMA {schema};
        CREATE FUNCTION {schema}.check_card(p_card text, p_amount integer) RETURNS boolean
            LANGUAGE plpgsql AS $$
            BEGIN
                IF p_amount < 0 THEN RAISE EXCEPTION 'the amount must not be negative'; END IF;
                RETURN length(p_card) = 16;
            END $$;
        CREATE FUNCTION {schema}.twice(p_amount integer) RETURNS integer LANGUAGE sql AS 'SELECT p_amount * 2';
        GRANT USAGE ON SCHEMA {schema} TO {role_file}, {role_env}, {role_bad};
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role_file}, {role_env}, {role_bad};
        """, db="demo")
    env = pool.env
    target = f"host={env['PGHOST']} port={env['PGPORT']} dbname=demo"
    connections = {
        f"sec-file-{tag}": (f"{target} user={role_file}", f"file:{secrets.file_name}"),
        f"sec-env-{tag}": (f"{target} user={role_env}", f"env:{secrets.variable}"),
        # Made right for its service's check; then its role's password changes under it.
        f"sec-bad-{tag}": (f"{target} user={role_bad}", f"env:{secrets.variable}"),
    }
    services = []
    try:
        # Refused at write time, saying why without a value; nothing stored.
        refusals = {
            "env:HOME": "starting with SPO_SECRET_", "env:SPO_SECRET_NOT_SET_AT_ALL": "is not set",
            "file:missing.pw": "does not exist", f"file:../{os.path.basename(secrets.directory)}/e2e.pw": "plain file",
            "file:/etc/shadow": "plain file",
        }
        for reference, saying in refusals.items():
            reply = answers.keep(requests.post(pool.url("/api/connections"), timeout=30, json={
                "name": f"sec-refused-{tag}", "conninfo": target, "password_from": reference}))
            assert reply.status_code == 400, reply.text
            problem = reply.json()["error"]["details"][0]
            assert problem["parameter"] == "connection.password_from" and saying in problem["problem"], reply.text
        reply = answers.keep(requests.post(pool.url("/api/connections"), timeout=30, json={
            "name": f"sec-refused-{tag}", "conninfo": f"{target} password={secrets.file_value}"}))
        assert reply.status_code == 400 and reply.json()["error"]["details"][0]["parameter"] == "connection.conninfo"

        for name, (conninfo, reference) in connections.items():
            reply = answers.keep(requests.post(pool.url("/api/connections"), timeout=30, json={
                "name": name, "conninfo": conninfo, "password_from": reference}))
            assert reply.status_code == 201, reply.text
            assert reply.json()["password_from"] == reference
        card = [{"name": "p_card", "type": "text", "required": True, "sensitive": True},
                {"name": "p_amount", "type": "integer", "required": True}]
        for name, connection, procedure, parameters in [
            (f"sec_card_{tag}", f"sec-file-{tag}", "check_card", card),
            (f"sec_card_env_{tag}", f"sec-env-{tag}", "check_card", card),
            (f"sec_twice_{tag}", f"sec-env-{tag}", "twice", [{"name": "p_amount", "type": "integer", "required": True}]),
            (f"sec_bad_{tag}", f"sec-bad-{tag}", "twice", [{"name": "p_amount", "type": "integer", "required": True}]),
        ]:
            create_live_service(pool, {"name": name, "connection": connection, "procedure": f"{schema}.{procedure}",
                                       "parameters": parameters, "timeout_ms": 5000})
            services.append(name)

        # `sensitive` round-trips, and OpenAPI marks the value write-only.
        document = answers.keep(requests.get(pool.url(f"/api/services/sec_card_{tag}"), timeout=10)).json()
        assert document["parameters"][0]["sensitive"] is True and "sensitive" not in document["parameters"][1]
        openapi = answers.keep(requests.get(pool.url("/api/openapi.json"), timeout=10)).json()
        body = openapi["paths"][f"/api/services/sec_card_{tag}/execute"]["post"]["requestBody"]
        schema_of = body["content"]["application/json"]["schema"]["properties"]
        assert schema_of["p_card"].get("writeOnly") is True and "writeOnly" not in schema_of["p_amount"]

        # Success over both secrets.
        for name in (f"sec_card_{tag}", f"sec_card_env_{tag}"):
            reply = answers.keep(pool.execute(name, {"p_card": SENSITIVE, "p_amount": 5}))
            assert reply.status_code == 200 and reply.json()["data"] is True, reply.text
        # Failure, then reprocessing: the recorded parameters lack the value, so it must be sent.
        failed = answers.keep(pool.execute(f"sec_card_{tag}", {"p_card": SENSITIVE, "p_amount": -1}))
        assert failed.status_code == 422, failed.text
        failed_id = failed.headers["X-Execution-ID"]
        recorded = answers.keep(requests.get(pool.url(f"/api/executions/{failed_id}"), timeout=10)).json()
        assert recorded["parameters"] == {"p_card": "[redacted]", "p_amount": -1}, recorded
        refused = answers.keep(requests.post(pool.url(f"/api/executions/{failed_id}/reprocess"), timeout=30,
                                             json={"reason": "retry"}))
        assert refused.status_code == 400, refused.text
        assert [d["parameter"] for d in refused.json()["error"]["details"]] == ["p_card"]
        rerun = answers.keep(requests.post(pool.url(f"/api/executions/{failed_id}/reprocess"), timeout=30, json={
            "reason": "retry", "parameters": {"p_card": SENSITIVE, "p_amount": 3}}))
        assert rerun.status_code == 200 and rerun.json()["reprocess_of"] == failed_id, rerun.text
        # A sensitive service is never queued (its job would keep the value in the control
        # database); another on the env secret runs asynchronously through a consumer.
        queued = answers.keep(pool.execute(f"sec_card_{tag}", {"p_card": SENSITIVE, "p_amount": 1}, headers=ASYNC))
        assert queued.status_code == 400 and "cannot be queued" in queued.text, queued.text
        accepted = answers.keep(pool.execute(f"sec_twice_{tag}", {"p_amount": 21}, headers=ASYNC))
        assert accepted.status_code == 202, accepted.text
        finished = _poll(pool, answers, accepted.json()["execution_id"])
        assert finished["status"] == "succeeded" and finished["data"] == 42, finished
        # A login that fails tells the client nothing about the host, user or reference.
        # (A connection in use cannot be rewritten to settings that fail: the password changes
        # in the database instead, and the sessions already open are ended.)
        _psql_stdin(pool, f"ALTER ROLE {role_bad} PASSWORD {_literal('changed' + tag)}; "
                          f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role_bad}';",
                    db="demo")
        seen: list[requests.Response] = []

        def refused_login():
            seen.append(answers.keep(pool.execute(f"sec_bad_{tag}", {"p_amount": 1})))
            return seen[-1].status_code == 503

        wait_for(refused_login, 15, interval=0.2, message="the changed password on every worker")
        bad = seen[-1]
        assert bad.status_code == 503 and bad.json()["error"]["code"] == "DB_CONNECTION_FAILED", bad.text
        for leak in (role_bad, env["PGHOST"], env["PGPORT"], secrets.variable, "password authentication"):
            assert leak not in bad.text, (leak, bad.text)
        assert bad.json()["error"]["details"] == [{"sqlstate": "08001", "message": "could not connect to the database"}]
        error = answers.keep(requests.get(pool.url(f"/api/errors/{bad.json()['error']['reference']}"), timeout=10))
        assert error.status_code == 200 and role_bad not in error.text, error.text
        for execution in (failed_id, rerun.json()["execution_id"]):
            answers.keep(requests.get(pool.url(f"/api/executions/{execution}"), timeout=10))
        answers.keep(requests.get(pool.url("/api/executions?limit=50"), timeout=10))
        answers.keep(requests.get(pool.url("/api/connections"), timeout=10))
        answers.keep(requests.get(pool.url("/api/health/services"), timeout=30))
        exported = pool.spo("services", "export", "--control", env["SPO_CONTROL_DB"]).stdout

        planted = [secrets.file_value, secrets.variable_value, SENSITIVE]
        # nginx's access log is buffered (flushed every second): wait for the last call's line.
        access_log = os.path.join(pool.state_dir, "log", "access.log")
        last = bad.headers["X-Execution-ID"]
        wait_for(lambda: os.path.exists(access_log) and last in open(access_log, errors="replace").read(), 10,
                 interval=0.1, message="the last call in nginx's access log")
        assert [v for v in planted if any(v in text for text in answers.texts)] == [], "an API answer"
        assert [v for v in planted if v in exported] == [], "the export"
        # Every file of the instance: logs, journals, spools, metrics, the cluster's own files.
        assert _files_holding(pool.state_dir, planted) == []
        assert [v for v in planted if v in pool.output()] == [], "spo dev's output"
        # Every process's command line, and no conninfo on the instance's.
        assert [p.cmdline for p in processes() if any(v in p.cmdline for v in planted)] == []
        for p in pool.own_processes():
            assert "--control" not in p.argv and "dbname=spo" not in p.cmdline, p.cmdline
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        assert [v for v in planted if v in ps] == []
        assert f"host={env['PGHOST']}" not in ps, "this instance's conninfo on a command line"
        # Every table of the control database, dumped as text.
        tables = pool.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'spo' ORDER BY 1").split()
        assert "service_execution" in tables and "connection" in tables
        for table in tables:
            dump = pool.psql(f"SELECT t::text FROM spo.{table} t")
            assert [v for v in planted if v in dump] == [], f"spo.{table}"
        # The redaction marker is what the audit kept.
        assert "[redacted]" in pool.psql(f"SELECT parameters::text FROM spo.service_execution WHERE id = '{failed_id}'")
    finally:
        for name in services:
            requests.delete(pool.url(f"/api/services/{name}"), timeout=30)
        for name in connections:
            requests.delete(pool.url(f"/api/connections/{name}"), timeout=30)
        _psql_stdin(pool, f"DROP SCHEMA IF EXISTS {schema} CASCADE; DROP OWNED BY {role_file}, {role_env}, {role_bad}; "
                          f"DROP ROLE {role_file}; DROP ROLE {role_env}; DROP ROLE {role_bad};", db="demo")
