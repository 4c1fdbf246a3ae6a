"""POST /api/executions/{id}/reprocess through the real stack: a re-run, linked both ways."""
from __future__ import annotations

import threading
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
    # It succeeded: running it again takes "force" (and a refusal runs and links nothing).
    refused = _reprocess(spo, original, {"reason": "checking the balance again"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CONFLICT", refused.text
    assert '"force": true' in refused.json()["error"]["message"] and "X-Execution-ID" not in refused.headers
    assert _reprocessing_rows(spo, original) == 0
    again = _reprocess(spo, original, {"reason": "checking the balance again", "force": True})
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
    _, original = _execute(spo, "note_add", {"p_customer_id": 999999, "p_note": "no such customer"})
    before = _reprocessing_rows(spo, original)
    executions_before = int(spo.psql("SELECT count(*) FROM spo.service_execution"))
    bad = _reprocess(spo, original, {"parameters": {"p_customer_id": 0, "p_note": "x"}})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["parameter"] == "p_customer_id"
    not_a_flag = _reprocess(spo, original, {"force": "yes"})
    assert not_a_flag.status_code == 400 and not_a_flag.json()["error"]["details"][0]["parameter"] == "force"
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


def test_concurrent_requests_through_the_pool_reprocess_one_execution_once(spo):
    for _ in range(3):
        failed, original = _execute(spo, "business_failure", {"p_code": "E303"})
        assert failed.status_code == 422
        barrier = threading.Barrier(12)
        responses = [None] * 12

        def run(index):
            barrier.wait(timeout=30)
            responses[index] = _reprocess(spo, original, {"reason": f"request {index}"})

        threads = [threading.Thread(target=run, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        codes = sorted(r.status_code for r in responses)
        assert codes == [409] * 11 + [422], [r.text for r in responses]
        ran = next(r for r in responses if r.status_code == 422).headers["X-Execution-ID"]
        assert all("X-Execution-ID" not in r.headers for r in responses if r.status_code == 409)
        assert _reprocessing_rows(spo, original) == 1
        assert spo.psql(f"SELECT id FROM spo.service_execution WHERE reprocess_of = '{original}'").split() == [ran]
