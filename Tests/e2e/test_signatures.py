"""Real signatures and safe retries through nginx and the pool: services created over the admin API
for an unnamed argument (pagila's last_day), a mixed-case name, a result column named like the
generated SQL's alias, and a volatile procedure whose connection is cut after it committed."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from e2e_support import wait_for


def _call(method, spo, path, body=None):
    return requests.request(method, spo.url(path), json=body, timeout=30)


@pytest.fixture
def created(spo):
    """Services a test creates, deleted afterwards: other tests expect only the example services."""
    names: list[str] = []
    yield names
    for name in names:
        assert _call("DELETE", spo, f"/api/services/{name}").status_code == 204
    for name in names:
        wait_for(lambda: spo.execute(name, {}).status_code == 404, timeout=2.0, message=f"{name} gone from the pool")


def _create(spo, created: list[str], document: dict) -> dict:
    response = _call("POST", spo, "/api/services", document)
    assert response.status_code == 201, response.text
    created.append(document["name"])
    wait_for(lambda: spo.execute(document["name"], {}).status_code != 404, timeout=2.0,
             message=f"{document['name']} live on the pool")
    return response.json()


def test_unnamed_mixed_case_and_alias_named_columns_over_http(spo, created):
    suffix = uuid.uuid4().hex[:6]
    spo.psql(f"""
        CREATE FUNCTION public.last_day_{suffix}(timestamp with time zone) RETURNS date
            LANGUAGE sql IMMUTABLE STRICT
            AS $$ SELECT (date_trunc('month', $1) + interval '1 month' - interval '1 day')::date $$;
        CREATE FUNCTION demo."GetOrder_{suffix}"(p_id int) RETURNS TABLE (r numeric, spo_rows text)
            LANGUAGE sql STABLE AS $$ SELECT p_id * 1.5, 'mixed' $$;
        """, db="demo")

    last_day = _create(spo, created, {"name": f"last_day_{suffix}", "connection": "demo",
                             "procedure": f"last_day_{suffix}", "parameters": "discover"})
    assert [(p["name"], p["type"], p["required"]) for p in last_day["parameters"]] == [("arg1", "timestamptz", True)]
    answer = spo.execute(f"last_day_{suffix}", {"arg1": "2024-02-10T12:00:00Z"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == "2024-02-29"
    schema = _call("GET", spo, "/api/openapi.json").json()["paths"][f"/api/services/last_day_{suffix}/execute"]
    body = schema["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["arg1"] and "by position" in body["properties"]["arg1"]["description"]

    order = _create(spo, created, {"name": f"get_order_{suffix}", "connection": "demo",
                          "procedure": f'demo."GetOrder_{suffix}"', "parameters": "discover"})
    assert order["procedure"] == f'demo."GetOrder_{suffix}"'
    rows = spo.execute(f"get_order_{suffix}", {"p_id": 3})
    assert rows.status_code == 200, rows.text
    expected = spo.psql(f'SELECT json_agg(q) FROM demo."GetOrder_{suffix}"(3) AS q', db="demo").strip()
    assert rows.json()["data"] == json.loads(expected) == [{"r": 4.5, "spo_rows": "mixed"}]


def test_a_volatile_procedure_cut_after_commit_runs_once_an_idempotent_one_is_retried(spo, created):
    suffix = uuid.uuid4().hex[:6]
    spo.psql(f"""
        CREATE TABLE demo.charges_{suffix} (reference text NOT NULL);
        -- A procedure that commits cannot be SECURITY DEFINER: the connection's role gets the table.
        GRANT SELECT, INSERT ON demo.charges_{suffix} TO spo_target_executor;
        CREATE PROCEDURE demo.charge_{suffix}(p_reference text) LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO demo.charges_{suffix} VALUES (p_reference);
            COMMIT;
            IF (SELECT count(*) FROM demo.charges_{suffix} WHERE reference = p_reference) = 1 THEN
                PERFORM pg_terminate_backend(pg_backend_pid());
                PERFORM pg_sleep(5);
            END IF;
        END $$;
        """, db="demo")
    for idempotent in (False, True):
        name = f"charge_{suffix}_{str(idempotent).lower()}"
        _create(spo, created, {"name": name, "connection": "demo", "procedure": f"demo.charge_{suffix}",
                      "parameters": [{"name": "p_reference", "type": "text", "required": True}],
                      "retry_policy": "default", "idempotent": idempotent})
    volatile = spo.execute(f"charge_{suffix}_false", {"p_reference": "once"})
    assert volatile.status_code in (502, 503), volatile.text
    assert "may have run" in volatile.json()["error"]["details"][0]["message"]
    assert spo.psql(f"SELECT count(*) FROM demo.charges_{suffix} WHERE reference = 'once'", db="demo").strip() == "1"

    declared = spo.execute(f"charge_{suffix}_true", {"p_reference": "twice"})
    assert declared.status_code == 200, declared.text
    assert declared.json()["attempts"] == 2
    assert spo.psql(f"SELECT count(*) FROM demo.charges_{suffix} WHERE reference = 'twice'", db="demo").strip() == "2"
