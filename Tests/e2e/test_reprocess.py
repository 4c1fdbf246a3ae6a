"""POST /api/executions/{id}/reprocess through the real stack: a re-run, linked both ways."""
from __future__ import annotations

import uuid

import requests


def _execute(spo, service, parameters):
    response = spo.execute(service, parameters)
    return response, response.headers["X-Execution-ID"]


def _reprocess(spo, execution_id, body=None, headers=None):
    return requests.post(spo.url(f"/api/executions/{execution_id}/reprocess"), json=body if body is not None else {},
                         headers=headers or {}, timeout=30)


def _detail(spo, execution_id):
    response = requests.get(spo.url(f"/api/executions/{execution_id}"), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _reprocessing_rows(spo, original):
    return int(spo.psql(f"SELECT count(*) FROM spo.service_reprocessing WHERE original_execution_id = '{original}'"))


def test_a_reprocessed_execution_is_linked_both_ways(spo):
    first, original = _execute(spo, "customer_get", {"p_id": 11})
    assert first.status_code == 200
    again = _reprocess(spo, original, {"reason": "checking the balance again"})
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["reprocess_of"] == original and body["data"] == first.json()["data"]
    new = body["execution_id"]
    assert new != original and again.headers["X-Execution-ID"] == new
    old_detail, new_detail = _detail(spo, original), _detail(spo, new)
    assert [r["new_execution_id"] for r in old_detail["reprocessed_as"]] == [new]
    assert new_detail["reprocess_of"] == original
    link = new_detail["reprocessing_of"]
    assert (link["original_execution_id"], link["requested_by"], link["reason"]) == (
        original, "dev-admin", "checking the balance again")


def test_a_failed_execution_can_be_rerun_with_other_parameters(spo):
    failed, original = _execute(spo, "business_failure", {"p_code": "E101"})
    assert failed.status_code == 422
    rerun = _reprocess(spo, original, {"reason": "new code", "parameters": {"p_code": "E202"}})
    # The procedure always raises: the re-run fails too, and is audited and linked like any run.
    assert rerun.status_code == 422 and rerun.json()["error"]["code"] == "SP_EXECUTION_FAILED"
    new = rerun.headers["X-Execution-ID"]
    detail = _detail(spo, new)
    assert detail["reprocess_of"] == original and detail["parameters"] == {"p_code": "E202"}
    assert detail["status"] == "failed" and detail["errors"][0]["code"] == "SP_EXECUTION_FAILED"
    assert "E202" in detail["errors"][0]["message"]


def test_refused_reprocessing_changes_nothing(spo):
    _, original = _execute(spo, "customer_get", {"p_id": 12})
    before = _reprocessing_rows(spo, original)
    executions_before = int(spo.psql("SELECT count(*) FROM spo.service_execution"))
    bad = _reprocess(spo, original, {"parameters": {"p_id": 0}})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["parameter"] == "p_id"
    unknown_field = _reprocess(spo, original, {"why": "typo"})
    assert unknown_field.status_code == 400
    assert _reprocessing_rows(spo, original) == before
    assert int(spo.psql("SELECT count(*) FROM spo.service_execution")) == executions_before
    missing = _reprocess(spo, str(uuid.uuid4()))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


def test_only_admin_keys_reprocess(spo):
    _, original = _execute(spo, "customer_get", {"p_id": 13})
    name = f"gateway-{uuid.uuid4().hex[:6]}"
    key = spo.spo("keys", "create", "--name", name, "--role", "executor", "--grant", "*",
                  "--control", spo.env["SPO_CONTROL_DB"]).stdout.strip()
    assert _reprocess(spo, original, headers={"Authorization": f"Bearer {key}"}).status_code == 403
    assert _reprocess(spo, original, headers={"Authorization": ""}).status_code == 401
    assert _reprocessing_rows(spo, original) == 0
