"""Least privilege in the database, through the real stack (`spo dev`): the pool reaches the
control database as `spo_pool` (a member of `spo_worker`) and the example database as
`spo_target_executor`, a role that owns nothing, reads no table and may only EXECUTE the
registered routines; history is append-only for the pool's role."""

from __future__ import annotations

import os
import subprocess
import uuid

import requests

from e2e_support import create_live_service

EXECUTOR = "spo_target_executor"
POOL = "spo_pool"


def psql_as(spo, user: str, sql: str, db: str) -> subprocess.CompletedProcess:
    """psql as `user`, the password from the instance's pgpass file (PGPASSFILE), never typed."""
    return subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", spo.env["PGHOST"], "-p", spo.env["PGPORT"],
         "-U", user, "-d", db, "-c", sql],
        capture_output=True, text=True, timeout=60, env={**os.environ, **spo.env})


def test_the_pool_connects_as_its_roles_not_the_superuser(spo):
    assert spo.execute("customer_get", {"p_id": 42}).status_code == 200
    sessions = spo.psql(
        "SELECT DISTINCT datname || ':' || usename FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname IN ('spo', 'demo')")
    assert set(sessions.split()) == {f"spo:{POOL}", f"demo:{EXECUTOR}"}
    assert spo.psql(f"SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname IN "
                    f"('{POOL}', '{EXECUTOR}')").split() == ["f", "f"]
    # Their passwords are in the pgpass file beside the superuser's, which libpq reads: mode 0600.
    pgpass = spo.env["PGPASSFILE"]
    assert oct(os.stat(pgpass).st_mode & 0o777) == "0o600"
    with open(pgpass) as f:
        users = [line.split(":")[3] for line in f.read().splitlines()]
    assert sorted(users) == sorted([spo.env["PGUSER"], POOL, EXECUTOR])


def test_the_executor_role_reads_no_table_and_runs_only_registered_routines(spo):
    refused = psql_as(spo, EXECUTOR, "SELECT count(*) FROM demo.customer", "demo")
    assert refused.returncode != 0 and "permission denied for table customer" in refused.stderr
    written = psql_as(spo, EXECUTOR, "INSERT INTO demo.order_note (customer_id, note) VALUES (1, 'x')", "demo")
    assert written.returncode != 0 and "permission denied" in written.stderr

    # The registered services work end to end, reading and writing through SECURITY DEFINER routines.
    customer = spo.execute("customer_get", {"p_id": 42})
    assert customer.status_code == 200 and customer.json()["data"][0]["id"] == 42, customer.text
    note = f"least-{uuid.uuid4().hex[:8]}"
    assert spo.execute("note_add", {"p_customer_id": 1, "p_note": note}).status_code == 200
    assert spo.psql(f"SELECT count(*) FROM demo.order_note WHERE note = '{note}'", db="demo").strip() == "1"
    transfer = spo.execute("transfer", {"p_from": 1, "p_to": 2, "p_amount": 1})
    assert transfer.status_code == 200, transfer.text

    # A routine of the owner's that no service exposes: the executor may not run it, not even
    # once a service names it, until `spo grants` has been run.
    suffix = uuid.uuid4().hex[:8]
    routine = f"demo.e2e_unregistered_{suffix}"
    spo.psql(f"SET ROLE spo_target_owner; CREATE FUNCTION {routine}() RETURNS bigint LANGUAGE sql STABLE "
             f"SECURITY DEFINER SET search_path = pg_catalog AS 'SELECT count(*) FROM demo.customer'", db="demo")
    direct = psql_as(spo, EXECUTOR, f"SELECT {routine}()", "demo")
    assert direct.returncode != 0 and f"permission denied for function e2e_unregistered_{suffix}" in direct.stderr
    name = f"unregistered_{suffix}"
    create_live_service(spo, {"name": name, "connection": "demo", "procedure": routine, "parameters": []})
    try:
        before = spo.execute(name)
        assert before.status_code == 403, before.text
        assert before.json()["error"]["code"] == "SP_EXECUTION_FAILED"
        assert before.json()["error"]["details"][0]["sqlstate"] == "42501"

        grants = spo.grant_services()
        assert f'GRANT EXECUTE ON ROUTINE "demo"."e2e_unregistered_{suffix}" TO "{EXECUTOR}";' in grants.splitlines()
        assert f'GRANT USAGE ON SCHEMA "demo" TO "{EXECUTOR}";' in grants.splitlines()
        after = spo.execute(name)
        assert after.status_code == 200 and after.json()["data"] == 1000, after.text
    finally:
        requests.delete(spo.url(f"/api/services/{name}"), timeout=30)


def test_the_grants_command_names_every_registered_routine_of_a_connection(spo):
    printed = spo.spo("grants", "--connection", "demo").stdout.splitlines()
    assert printed[0].startswith("-- connection demo")
    for routine in ["get_customer", "search_customers", "customer_count", "echo_types", "big_numbers",
                    "add_note", "transfer", "fail_business", "slow", "flaky"]:
        assert f'GRANT EXECUTE ON ROUTINE "demo"."{routine}" TO "{EXECUTOR}";' in printed
    unknown = spo.spo("grants", "--connection", "nope", check=False)
    assert unknown.returncode == 1 and "no connection named nope" in unknown.stderr


def test_the_pool_role_cannot_rewrite_or_delete_history(spo):
    failed = spo.execute("business_failure")
    execution, reference = failed.headers["X-Execution-ID"], failed.json()["error"]["reference"]
    update = psql_as(spo, POOL, f"UPDATE spo.service_execution SET status = 'succeeded' WHERE id = '{execution}'",
                     "spo")
    assert update.returncode != 0 and "the audit row of a finished execution is never changed" in update.stderr
    for statement in ["DELETE FROM spo.service_execution", "DELETE FROM spo.service_error",
                      "UPDATE spo.service_error SET message = 'nothing'", "TRUNCATE spo.service_reprocessing"]:
        refused = psql_as(spo, POOL, statement, "spo")
        assert refused.returncode != 0 and "permission denied" in refused.stderr, statement
    assert spo.psql(f"SELECT status FROM spo.service_execution WHERE id = '{execution}'").strip() == "failed"
    assert spo.psql(f"SELECT code FROM spo.service_error WHERE reference = '{reference}'").strip() \
        == "SP_EXECUTION_FAILED"


def test_the_saga_log_is_written_by_the_pool_role_and_never_deleted(spo):
    """Migration 12 runs before 13, so its tables get 13's grants: read, insert, update, no delete
    (the outbox and the timeline are history too)."""
    grants = spo.psql(
        "SELECT table_name || ':' || string_agg(privilege_type, ',' ORDER BY privilege_type)"
        " FROM information_schema.role_table_grants WHERE grantee = 'spo_worker' AND table_schema = 'spo'"
        " AND table_name LIKE 'saga%' GROUP BY table_name ORDER BY table_name").split()
    assert grants == [f"{table}:INSERT,SELECT,UPDATE" for table in
                      ("saga", "saga_compensation", "saga_event", "saga_outbox", "saga_step")]
    refused = psql_as(spo, POOL, "DELETE FROM spo.saga_event", "spo")
    assert refused.returncode != 0 and "permission denied for table saga_event" in refused.stderr
