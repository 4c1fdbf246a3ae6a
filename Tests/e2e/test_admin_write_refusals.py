"""Administrative writes the fuzz run (test_fuzz.py) generated, refused when they are written rather
than breaking later calls: its findings, and the same rule where no HTTP operation reaches (keys
are made on the command line).

- A connection that services use, rewritten with settings that do not reach their routines (the
  fuzzer gave `demo` a `password_from` naming no variable: every example service then answered
  503), is refused with 400 and changes nothing; a change that keeps where it connects is not
  checked, and a connection no service uses is stored as it is.
- A retry policy whose name the table's CHECK constraint refuses answered 503 DB_CONNECTION_FAILED
  (the control database "did not answer"): now 400 at its field, like a connection's.
- `retryable_sqlstates` items that are not SQLSTATEs were stored, or dropped without a word.
- `spo keys create` stored grants no service name can match, and sent names the table refuses to
  it (a database error).
"""

from __future__ import annotations

import json
import uuid

import requests


def _url(spo, path):
    return spo.url(path)


def _demo(spo) -> dict:
    response = requests.get(_url(spo, "/api/connections/demo"), timeout=30)
    assert response.status_code == 200, response.text
    document = response.json()
    document.pop("breaker_state", None)
    return document


def _put_demo(spo, document) -> requests.Response:
    return requests.put(_url(spo, "/api/connections/demo"), json=document, timeout=30)


def test_a_connection_in_use_is_not_rewritten_to_settings_that_miss_its_services(spo):
    original = _demo(spo)
    try:
        for change in (# A variable the pool may read, holding another role's password.
                       {"password_from": "env:" + spo.secrets.variable},
                       {"conninfo": original["conninfo"].replace("dbname=demo", "dbname=spo")},
                       {"conninfo": original["conninfo"].replace("dbname=demo", "dbname=no_such_database")}):
            refused = _put_demo(spo, {**original, **change})
            assert refused.status_code == 400, (change, refused.text)
            error = refused.json()["error"]
            assert error["code"] == "INVALID_PARAMETERS", error
            problems = " ".join(item["problem"] for item in error["details"])
            assert "customer_get" in problems, (change, problems)
            assert _demo(spo) == original, change  # nothing changed
            called = spo.execute("customer_get", {"p_id": 42})
            assert called.status_code == 200, called.text
    finally:
        if _demo(spo) != original:  # on code that stored it, the rest of the suite needs demo back
            assert _put_demo(spo, original).status_code == 200


def test_a_change_that_keeps_where_a_connection_in_use_connects_is_stored(spo):
    original = _demo(spo)
    try:
        changed = _put_demo(spo, {**original, "description": "fuzz-" + uuid.uuid4().hex[:6]})
        assert changed.status_code == 200, changed.text
    finally:
        assert _put_demo(spo, original).status_code == 200


def test_a_connection_no_service_uses_is_stored_as_it_is(spo):
    name = "unused-" + uuid.uuid4().hex[:8]
    document = {"name": name, "conninfo": "dbname=no_such_database"}
    created = requests.post(_url(spo, "/api/connections"), json=document, timeout=30)
    assert created.status_code == 201, created.text
    assert requests.delete(_url(spo, f"/api/connections/{name}"), timeout=30).status_code == 204


def test_import_does_not_rewrite_a_connection_in_use_to_settings_that_miss_its_services(spo, tmp_path):
    original = _demo(spo)
    document = {"connections": [{**original, "conninfo": original["conninfo"].replace("dbname=demo", "dbname=spo")}]}
    path = tmp_path / "connections.json"
    path.write_text(json.dumps(document))
    imported = spo.spo("services", "import", str(path), "--control", spo.env["SPO_CONTROL_DB"], check=False)
    assert imported.returncode != 0, imported.stdout
    assert "customer_get" in imported.stdout + imported.stderr
    if _demo(spo) != original:
        assert _put_demo(spo, original).status_code == 200
        raise AssertionError("the import rewrote demo")


def test_a_retry_policy_name_the_table_refuses_is_400_at_its_field(spo):
    refused = requests.post(_url(spo, "/api/retry-policies"), json={"name": "z*"}, timeout=30)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "INVALID_PARAMETERS"
    assert [item["parameter"] for item in error["details"]] == ["retry_policy.name"], error


def test_retryable_sqlstates_that_are_not_sqlstates_are_refused_and_nothing_is_stored(spo):
    for states in ([1, "40001"], [None], ["40p01"], ["@@"]):
        name = "fuzz-" + uuid.uuid4().hex[:8]
        refused = requests.post(_url(spo, "/api/retry-policies"), json={"name": name, "retryable_sqlstates": states},
                                timeout=30)
        assert refused.status_code == 400, (states, refused.text)
        assert "retry_policy.retryable_sqlstates" in [item["parameter"] for item in refused.json()["error"]["details"]]
        assert requests.get(_url(spo, f"/api/retry-policies/{name}"), timeout=30).status_code == 404


def test_keys_with_nonsense_names_or_grants_are_refused_before_anything_is_stored(spo):
    before = spo.spo("keys", "list", "--control", spo.env["SPO_CONTROL_DB"]).stdout
    for arguments in (["--name", "with space", "--role", "admin"],
                      ["--name", "fuzz-grant", "--role", "executor", "--grant", "Customer Get"],
                      ["--name", "fuzz-grant", "--role", "executor", "--grant", "'; DROP TABLE spo.api_key; --"]):
        refused = spo.spo("keys", "create", *arguments, "--control", spo.env["SPO_CONTROL_DB"], check=False)
        assert refused.returncode != 0 and "spo_" not in refused.stdout, (arguments, refused.stdout)
        assert "--name" in refused.stderr or "--grant" in refused.stderr, (arguments, refused.stderr)
    assert spo.spo("keys", "list", "--control", spo.env["SPO_CONTROL_DB"]).stdout == before
