"""Changing configuration over HTTP: the same documents and checks as `spo services import`."""
from __future__ import annotations

import json
import threading
import uuid

import requests

from e2e_support import wait_for


def _call(method, spo, path, body=None, headers=None):
    return requests.request(method, spo.url(path), json=body, headers=headers or {}, timeout=30)


def test_a_service_created_with_discovery_is_live_then_updated_and_deleted(spo):
    name = f"rich_{uuid.uuid4().hex[:6]}"
    document = {"name": name, "description": "Customers above a balance", "connection": "demo",
                "procedure": "demo.customer_count", "parameters": "discover", "timeout_ms": 2000}
    created = _call("POST", spo, "/api/services", document)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["result_shape"] == "scalar"
    assert body["parameters"] == [{"name": "p_min_balance", "type": "numeric", "direction": "IN", "required": False}]
    assert _call("POST", spo, "/api/services", document).json()["error"]["code"] == "CONFLICT"
    wait_for(lambda: spo.execute(name, {"p_min_balance": 500}).status_code == 200, timeout=1.0,
             message="the new service answering")
    document.update(enabled=False)
    del document["name"]
    updated = _call("PUT", spo, f"/api/services/{name}", document)
    assert updated.status_code == 200 and updated.json()["enabled"] is False
    wait_for(lambda: spo.execute(name, {}).status_code == 404, timeout=1.0, message="the disabled service gone")
    assert _call("DELETE", spo, f"/api/services/{name}").status_code == 204
    assert _call("GET", spo, f"/api/services/{name}").status_code == 404
    assert _call("DELETE", spo, f"/api/services/{name}").status_code == 404


def test_a_wrong_procedure_is_refused_and_changes_nothing(spo):
    before = spo.psql("SELECT count(*) FROM spo.service").strip()
    response = _call("POST", spo, "/api/services",
                     {"name": "broken_one", "connection": "demo", "procedure": "demo.no_such_routine"})
    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["details"][0]["problem"]
    mismatch = _call("PUT", spo, "/api/services/customer_get", {"name": "other", "connection": "demo"})
    assert mismatch.status_code == 400 and mismatch.json()["error"]["details"][0]["parameter"] == "name"
    assert spo.psql("SELECT count(*) FROM spo.service").strip() == before


def test_connections_and_retry_policies(spo):
    name = f"spare-{uuid.uuid4().hex[:6]}"
    connection = {"name": name, "conninfo": "host=/nonexistent dbname=x", "password_from": "pgpass"}
    assert _call("POST", spo, "/api/connections", connection).status_code == 201
    assert _call("POST", spo, "/api/connections", {**connection, "conninfo": "password=secret"}).status_code == 400
    listed = _call("GET", spo, f"/api/connections/{name}").json()
    assert listed["password_from"] == "pgpass" and "secret" not in str(listed)
    assert _call("DELETE", spo, "/api/connections/demo").json()["error"]["code"] == "CONFLICT"
    assert _call("DELETE", spo, f"/api/connections/{name}").status_code == 204
    policy = f"patient-{uuid.uuid4().hex[:6]}"
    assert _call("POST", spo, "/api/retry-policies", {"name": policy, "max_attempts": 5}).status_code == 201
    assert _call("PUT", spo, f"/api/retry-policies/{policy}",
                 {"max_attempts": 2, "retryable_sqlstates": ["P0001"]}).status_code == 400  # business errors
    assert _call("PUT", spo, f"/api/retry-policies/{policy}", {"max_attempts": 2}).json()["max_attempts"] == 2
    assert _call("DELETE", spo, f"/api/retry-policies/{policy}").status_code == 204


def test_only_admin_keys_change_configuration(spo):
    key = spo.spo("keys", "create", "--name", f"gw-{uuid.uuid4().hex[:6]}", "--role", "executor", "--grant", "*",
                  "--control", spo.env["SPO_CONTROL_DB"]).stdout.strip()
    assert _call("DELETE", spo, "/api/services/customer_get", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    assert _call("DELETE", spo, "/api/services/customer_get", headers={"Authorization": ""}).status_code == 401
    assert _call("GET", spo, "/api/services/customer_get").status_code == 200


def test_a_document_read_with_get_goes_back_with_put_and_a_stale_one_is_refused(spo):
    name = f"rt_{uuid.uuid4().hex[:6]}"
    created = _call("POST", spo, "/api/services", {"name": name, "connection": "demo",
                                                   "procedure": "demo.customer_count", "parameters": "discover"})
    assert created.status_code == 201, created.text
    read = _call("GET", spo, f"/api/services/{name}").json()
    # Unchanged, with the server's own fields (id, version, result_shape): accepted.
    turned_off = _call("PUT", spo, f"/api/services/{name}", {**read, "enabled": False})
    assert turned_off.status_code == 200, turned_off.text
    assert turned_off.json()["enabled"] is False and turned_off.json()["version"] > read["version"]
    # The same stale read again: someone changed it meanwhile, so it is refused and changes nothing.
    stale = _call("PUT", spo, f"/api/services/{name}", {**read, "description": "stale"})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "CONFLICT"
    assert _call("GET", spo, f"/api/services/{name}").json()["description"] == read["description"]
    assert _call("PUT", spo, f"/api/services/{name}", {**read, "version": "x"}).status_code == 400
    assert _call("DELETE", spo, f"/api/services/{name}").status_code == 204


def _at_once(count, send):
    """`count` threads released together by a barrier, each calling send(index); the responses."""
    barrier = threading.Barrier(count)
    responses = [None] * count

    def run(index):
        barrier.wait(timeout=30)
        responses[index] = send(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in responses), "a request did not finish"
    return responses


def test_concurrent_posts_of_one_name_through_the_pool_create_it_once(spo):
    for _ in range(5):
        name = f"race_{uuid.uuid4().hex[:6]}"
        document = {"name": name, "connection": "demo", "procedure": "demo.customer_count", "parameters": "discover"}
        responses = _at_once(12, lambda _: _call("POST", spo, "/api/services", document))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 11, [r.text for r in responses]
        assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"CONFLICT"}
        assert spo.psql(f"SELECT count(*), max(version) FROM spo.service WHERE name = '{name}'").strip() == "1|1"
        assert _call("DELETE", spo, f"/api/services/{name}").status_code == 204


def test_concurrent_puts_with_one_version_through_the_pool_replace_it_once(spo):
    name = f"contest_{uuid.uuid4().hex[:6]}"
    created = _call("POST", spo, "/api/services", {"name": name, "connection": "demo",
                                                   "procedure": "demo.customer_count", "parameters": "discover"})
    assert created.status_code == 201, created.text
    try:
        for _ in range(5):
            read = _call("GET", spo, f"/api/services/{name}").json()
            responses = _at_once(12, lambda i: _call("PUT", spo, f"/api/services/{name}",
                                                     {**read, "description": f"writer {i}"}))
            codes = sorted(r.status_code for r in responses)
            assert codes == [200] + [409] * 11, [r.text for r in responses]
            winner = next(r.json() for r in responses if r.status_code == 200)
            assert winner["version"] == read["version"] + 1
            stored = _call("GET", spo, f"/api/services/{name}").json()
            assert (stored["description"], stored["version"]) == (winner["description"], read["version"] + 1)
    finally:
        _call("DELETE", spo, f"/api/services/{name}")


def test_conninfo_is_read_by_libpq_and_a_password_in_any_spelling_is_refused(spo, tmp_path):
    name = f"guarded-{uuid.uuid4().hex[:6]}"
    for conninfo in ["host=db password=hunter2", "postgresql://app:hunter2@db/x", "postgresql://db/x?password=hunter2",
                     "postgresql://db/x?%70assword=hunter2", "postgresql://app:%68unter2@db/x"]:
        refused = _call("POST", spo, "/api/connections", {"name": name, "conninfo": conninfo})
        assert refused.status_code == 400, refused.text
        problem = refused.json()["error"]["details"][0]
        assert problem["parameter"] == "connection.conninfo" and "password_from" in problem["problem"]
        assert "hunter2" not in refused.text
    garbage = _call("POST", spo, "/api/connections", {"name": name, "conninfo": "host=db dbname"})
    assert garbage.status_code == 400
    assert 'missing "=" after "dbname"' in garbage.json()["error"]["details"][0]["problem"]
    assert spo.psql(f"SELECT count(*) FROM spo.service_error WHERE message LIKE '%hunter2%'").strip() == "0"
    assert spo.psql(f"SELECT count(*) FROM spo.connection WHERE name = '{name}'").strip() == "0"
    # `spo services import` applies the same rules.
    document = tmp_path / "services.json"
    document.write_text(json.dumps({"connections": [{"name": name, "conninfo": "postgresql://db/x?%70assword=x"}]}))
    imported = spo.spo("services", "import", str(document), "--control", spo.env["SPO_CONTROL_DB"], check=False)
    assert imported.returncode != 0 and "password" in imported.stderr + imported.stdout
    assert spo.psql(f"SELECT count(*) FROM spo.connection WHERE name = '{name}'").strip() == "0"
