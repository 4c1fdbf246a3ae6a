"""Sagas (`kind: "saga"`) through nginx, the pool and the queue consumers: seed 003's campaign
saga across three databases (examples/flow-003-campaign.json), compensation in reverse order, the
saga timeout, a compensation that keeps failing (compensation_failed) and its manual retry,
asynchronous and idempotent sagas, configuration errors, and crash recovery: `kill -9` of the
process running a saga while a step is blocked, at each step, after which recovery finishes it
with each step's effect exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid

import requests

from e2e_support import create_live_service, wait_for

ASYNC = {"Prefer": "respond-async"}


def campaign_input(name: str, report_type: str = "metricas_generales") -> dict:
    return {
        "p_name": name, "p_type": "PROMOCIONAL", "p_budget": 1000.0, "p_currency": "USD",
        "p_affiliate": "afiliado_test", "p_payment_reference": "ref-" + name, "p_report_type": report_type,
        "p_report_from": "2025-01-01", "p_report_to": "2025-12-31",
    }


def rows(instance, sql: str, db: str) -> list[list[str]]:
    out = instance.psql(sql, db=db).strip()
    return [line.split("|") for line in out.splitlines()] if out else []


def saga_row(instance, saga_id: str) -> dict:
    text = instance.psql(f"SELECT row_to_json(s) FROM spo.saga s WHERE id = '{saga_id}'").strip()
    return json.loads(text) if text else {}


def events(instance, saga_id: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in rows(
        instance, f"SELECT event, coalesce(step, '') FROM spo.saga_event WHERE saga_id = '{saga_id}' ORDER BY id",
        "spo")]


def test_campaign_saga_completes_across_three_databases(pool):
    name = "camp-ok-" + uuid.uuid4().hex[:8]
    response = pool.execute("campaign_launch", campaign_input(name))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded" and body["saga"] == {"id": body["execution_id"], "state": "completed"}
    steps = body["data"]["steps"]
    assert set(steps) == {"create_campaign", "charge", "report"}
    campaign_id = steps["create_campaign"][0]["campaign_id"]
    assert rows(pool, f"SELECT status FROM campaign.campaign WHERE id = {campaign_id}", "campaign") == [["ACTIVA"]]
    assert rows(pool, f"SELECT status, campaign_id FROM payment.payment WHERE reference = 'ref-{name}'",
                "payment") == [["PROCESADO", str(campaign_id)]]
    assert rows(pool, f"SELECT status FROM report.report WHERE campaign_id = {campaign_id}", "report") == [["GENERADO"]]
    saga = saga_row(pool, body["execution_id"])
    assert saga["state"] == "completed" and saga["locked_by"] is None and saga["finished_at"]
    # Audit: the parent and one row per step, linked to it.
    members = rows(pool, "SELECT member_name, status FROM spo.service_execution "
                         f"WHERE parent_execution_id = '{body['execution_id']}' ORDER BY started_at", "spo")
    assert members == [["create_campaign", "succeeded"], ["charge", "succeeded"], ["report", "succeeded"]]
    assert rows(pool, f"SELECT status, service_name FROM spo.service_execution WHERE id = '{body['execution_id']}'",
                "spo") == [["succeeded", "campaign_launch"]]
    # Every event went to the outbox too.
    count = rows(pool, "SELECT (SELECT count(*) FROM spo.saga_event WHERE saga_id = '{0}'), (SELECT count(*) FROM "
                       "spo.saga_outbox o JOIN spo.saga_event e ON e.id = o.event_id WHERE e.saga_id = '{0}')"
                       .format(body["execution_id"]), "spo")[0]
    assert count[0] == count[1] and int(count[0]) >= 8


def test_saga_events_are_published_on_notify_spo_saga(pool):
    """A listener on channel spo_saga sees each event of a saga as it happens, as JSON naming the
    saga, its service, the event and the step (the trigger that also fills the outbox)."""
    listener = subprocess.Popen(
        ["psql", "-X", "-q", "-h", pool.env["PGHOST"], "-p", pool.env["PGPORT"], "-U", pool.env["PGUSER"], "-d", "spo",
         "-c", "LISTEN spo_saga", "-c", "SELECT 'listening'", "-c", "SELECT pg_sleep(15)"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The LISTEN is in place once psql's session is in its next command, the sleep.
        wait_for(lambda: rows(pool, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'spo' AND "
                                    "query LIKE 'SELECT pg_sleep(15)%'", "spo") == [["1"]],
                 10, interval=0.05, message="the listener to wait")
        response = pool.execute("campaign_launch", campaign_input("camp-notify-" + uuid.uuid4().hex[:8]))
        assert response.status_code == 200, response.text
        saga_id = response.json()["execution_id"]
        # The listener prints what it heard when its sleep ends: a wide margin for a slow saga.
        output, _ = listener.communicate(timeout=60)
    finally:
        listener.kill()
    payloads = [json.loads(line.split('with payload "', 1)[1].rsplit('" received', 1)[0])
                for line in output.splitlines() if 'notification "spo_saga"' in line]
    mine = [(p["event"], p["step"] or "") for p in payloads if p["saga_id"] == saga_id]
    assert mine == events(pool, saga_id), output
    assert mine[0] == ("saga_started", "") and mine[-1] == ("saga_completed", "")
    assert all(p["service"] == "campaign_launch" for p in payloads if p["saga_id"] == saga_id)


def test_a_failing_report_reverts_the_payment_and_cancels_the_campaign(pool):
    name = "camp-fail-" + uuid.uuid4().hex[:8]
    response = pool.execute("campaign_launch", campaign_input(name, report_type="no_such_report"))
    # The report service maps P0001 to 422: the saga answers the failed step's status and code.
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "SP_EXECUTION_FAILED"
    saga = next(d["saga"] for d in error["details"] if "saga" in d)
    assert saga["state"] == "compensated" and saga["failed_step"] == "report"
    campaign = rows(pool, f"SELECT id, status FROM campaign.campaign WHERE name = '{name}'", "campaign")
    assert [c[1] for c in campaign] == ["CANCELADA"]
    assert rows(pool, f"SELECT status FROM payment.payment WHERE reference = 'ref-{name}'", "payment") == [["REVERTIDO"]]
    assert rows(pool, f"SELECT count(*) FROM report.report WHERE campaign_id = {campaign[0][0]}", "report") == [["0"]]
    timeline = events(pool, saga["id"])
    assert ("step_failed", "report") in timeline
    done = [step for event, step in timeline if event == "compensation_done"]
    assert done == ["charge", "create_campaign"], timeline  # reverse order
    assert timeline[-1] == ("saga_compensated", "")
    assert saga_row(pool, saga["id"])["state"] == "compensated"
    members = rows(pool, "SELECT member_name, status FROM spo.service_execution "
                         f"WHERE parent_execution_id = '{saga['id']}' ORDER BY started_at", "spo")
    assert members == [["create_campaign", "succeeded"], ["charge", "succeeded"], ["report", "failed"],
                       ["charge:compensation", "succeeded"], ["create_campaign:compensation", "succeeded"]]


def test_a_compensation_that_keeps_failing_needs_the_manual_retry(pool):
    name = "camp-stuck-" + uuid.uuid4().hex[:8]
    pool.psql("INSERT INTO payment.provider_outage DEFAULT VALUES", db="payment")
    try:
        response = pool.execute("campaign_launch", campaign_input(name, report_type="no_such_report"))
    finally:
        pool.psql("DELETE FROM payment.provider_outage", db="payment")
    assert response.status_code == 422, response.text
    saga = next(d["saga"] for d in response.json()["error"]["details"] if "saga" in d)
    assert saga["state"] == "compensation_failed"
    # Retried under the saga's policy (default: 3 attempts), then it stopped: the campaign is
    # still active, since its compensation comes after the payment's.
    attempts = rows(pool, f"SELECT attempts, state FROM spo.saga_compensation WHERE saga_id = '{saga['id']}' "
                          "AND position = 1", "spo")
    assert attempts == [["3", "failed"]]
    assert rows(pool, f"SELECT status FROM payment.payment WHERE reference = 'ref-{name}'", "payment") == [["PROCESADO"]]
    assert rows(pool, f"SELECT status FROM campaign.campaign WHERE name = '{name}'", "campaign") == [["ACTIVA"]]

    audited = rows(pool, f"SELECT status, error_code FROM spo.service_execution WHERE id = '{saga['id']}'", "spo")
    retried = requests.post(pool.url(f"/api/sagas/{saga['id']}/compensate"), timeout=30)
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "compensated"
    assert [e["event"] for e in retried.json()["events"]][-1] == "saga_compensated"
    # History is append-only: the parent execution keeps what was audited when the call answered.
    assert rows(pool, f"SELECT status, error_code FROM spo.service_execution WHERE id = '{saga['id']}'",
                "spo") == audited
    assert rows(pool, f"SELECT status FROM payment.payment WHERE reference = 'ref-{name}'", "payment") == [["REVERTIDO"]]
    assert rows(pool, f"SELECT status FROM campaign.campaign WHERE name = '{name}'", "campaign") == [["CANCELADA"]]
    assert ("compensation_retried", "") in events(pool, saga["id"])

    again = requests.post(pool.url(f"/api/sagas/{saga['id']}/compensate"), timeout=30)
    assert again.status_code == 409 and again.json()["error"]["code"] == "SAGA_NOT_COMPENSABLE", again.text
    missing = requests.post(pool.url(f"/api/sagas/{uuid.uuid4()}/compensate"), timeout=30)
    assert missing.status_code == 404, missing.text
    anonymous = requests.post(pool.url(f"/api/sagas/{saga['id']}/compensate"), timeout=30,
                              headers={"Authorization": ""})
    assert anonymous.status_code == 401, anonymous.text


def test_async_saga_and_idempotency_key(pool):
    name = "camp-async-" + uuid.uuid4().hex[:8]
    queued = pool.execute("campaign_launch", campaign_input(name), headers=ASYNC)
    assert queued.status_code == 202, queued.text
    execution_id = queued.json()["execution_id"]

    def finished():
        body = requests.get(pool.url(f"/api/executions/{execution_id}"), timeout=10).json()
        return body if body["status"] not in ("queued", "running") else None

    body = wait_for(finished, 60, interval=0.1, message="the queued saga to finish")
    assert body["status"] == "succeeded", body
    assert saga_row(pool, execution_id)["state"] == "completed"
    assert rows(pool, f"SELECT count(*) FROM campaign.campaign WHERE name = '{name}'", "campaign") == [["1"]]

    keyed = "camp-key-" + uuid.uuid4().hex[:8]
    headers = {"Idempotency-Key": "k-" + keyed}
    first = pool.execute("campaign_launch", campaign_input(keyed), headers=headers)
    second = pool.execute("campaign_launch", campaign_input(keyed), headers=headers)
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["execution_id"] == first.json()["execution_id"]
    assert second.json()["data"] == first.json()["data"]
    assert rows(pool, f"SELECT count(*) FROM campaign.campaign WHERE name = '{keyed}'", "campaign") == [["1"]]
    assert rows(pool, f"SELECT count(*) FROM spo.saga WHERE input->>'p_name' = '{keyed}'", "spo") == [["1"]]


def test_the_saga_timeout_compensates(pool):
    name = "slow-saga-" + uuid.uuid4().hex[:6]
    create_live_service(pool, {
        "name": name, "kind": "saga", "timeout_ms": 1500, "retry_policy": "default",
        "parameters": [{"name": "p_name", "type": "text", "required": True}],
        "steps": [
            {"name": "create_campaign", "service": "campaign_create",
             "parameters": {"p_name": "$.input.p_name", "p_type": "PROMOCIONAL", "p_budget": 10,
                            "p_currency": "EUR", "p_affiliate": "a"},
             "compensation": {"service": "campaign_cancel",
                              "parameters": {"p_campaign_id": "$.steps.create_campaign.data[0].campaign_id"}}},
            {"name": "wait", "service": "slow", "parameters": {"p_seconds": 5}},
        ]})
    campaign = "camp-slow-" + uuid.uuid4().hex[:8]
    response = pool.execute(name, {"p_name": campaign})
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "TIMEOUT"
    saga = next(d["saga"] for d in response.json()["error"]["details"] if "saga" in d)
    assert saga["state"] == "compensated" and saga["failed_step"] == "wait"
    assert rows(pool, f"SELECT status FROM campaign.campaign WHERE name = '{campaign}'", "campaign") == [["CANCELADA"]]


def test_configuration_errors_are_refused_at_write_time(pool):
    base = {"name": "bad-saga", "kind": "saga", "parameters": [{"name": "p_id", "type": "integer"}]}

    def refused(steps: list, path: str, words: str):
        response = requests.post(pool.url("/api/services"), json={**base, "steps": steps}, timeout=30)
        assert response.status_code == 400, response.text
        problems = {d["parameter"]: d["problem"] for d in response.json()["error"]["details"]}
        assert path in problems, problems
        assert words in problems[path], problems

    undo = {"service": "campaign_cancel", "parameters": {"p_campaign_id": "$.input.p_id"}}
    refused([{"name": "a", "service": "no_such_service", "parameters": {}}],
            "service.steps[0].service", "no service named no_such_service")
    refused([{"name": "a", "service": "campaign_launch", "parameters": {}}],
            "service.steps[0].service", "composites do not nest")
    refused([{"name": "a", "service": "campaign_cancel", "parameters": {"p_campaign_id": "$.input.p_nope"}}],
            "service.steps[0].parameters.p_campaign_id", "names no parameter of this saga")
    refused([{"name": "a", "service": "campaign_cancel",
              "parameters": {"p_campaign_id": "$.steps.b.data[0].x"}, "compensation": undo},
             {"name": "b", "service": "campaign_cancel", "parameters": {"p_campaign_id": "$.input.p_id"}}],
            "service.steps[0].parameters.p_campaign_id", "does not run before")
    refused([{"name": "a", "service": "campaign_cancel", "parameters": {"p_campaign_id": "$.input.p_id"}},
             {"name": "b", "service": "campaign_cancel", "parameters": {"p_campaign_id": "$.input.p_id"}}],
            "service.steps[0].compensation", "only the last step may have none")
    refused([{"name": "a", "service": "campaign_cancel", "parameters": {}}],
            "service.steps[0].parameters", "p_campaign_id is required by campaign_cancel")
    refused([{"name": "a", "service": "campaign_cancel", "parameters": {"p_campaign_id": 1, "p_extra": 2}}],
            "service.steps[0].parameters.p_extra", "has no parameter p_extra")
    refused([{"name": "a", "service": "campaign_cancel", "parameters": {"p_campaign_id": 1},
              "compensation": {"service": "campaign_cancel", "parameters": {"p_campaign_id": "$.steps.z.data"}}}],
            "service.steps[0].compensation.parameters.p_campaign_id", "does not run before")
    assert requests.get(pool.url("/api/services/bad-saga"), timeout=10).status_code == 404
    # A service a saga uses cannot be deleted.
    deleted = requests.delete(pool.url("/api/services/campaign_cancel"), timeout=10)
    assert deleted.status_code == 409 and "campaign_launch" in deleted.json()["error"]["message"], deleted.text
    # The stored saga round-trips: GET then PUT of the same document is accepted.
    document = requests.get(pool.url("/api/services/campaign_launch"), timeout=10).json()
    assert document["kind"] == "saga" and "connection" not in document
    assert [s["name"] for s in document["steps"]] == ["create_campaign", "charge", "report"]
    put = requests.put(pool.url("/api/services/campaign_launch"), json=document, timeout=30)
    assert put.status_code == 200, put.text
    assert put.json()["steps"] == document["steps"]


def test_openapi_describes_the_saga(pool):
    spec = requests.get(pool.url("/api/openapi.json"), timeout=10).json()
    post = spec["paths"]["/api/services/campaign_launch/execute"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert "p_report_type" in body["properties"] and "p_name" in body["required"]
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]
    steps = answer["properties"]["data"]["properties"]["steps"]["properties"]
    assert set(steps) == {"create_campaign", "charge", "report"} and steps["charge"]["type"] == "array"
    assert "saga" in answer["required"]
    assert "/api/sagas/{id}/compensate" in spec["paths"]


# -- crash recovery ------------------------------------------------------------------------------

CRASH_SQL = """
CREATE SCHEMA IF NOT EXISTS saga_crash;
CREATE TABLE IF NOT EXISTS saga_crash.effect (run text NOT NULL, step text NOT NULL, at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION saga_crash.act(p_run text, p_step text) RETURNS TABLE (run text, step text)
LANGUAGE plpgsql AS $$
BEGIN
    -- Blocks while the test holds this run's and step's lock: a known point to kill the runner at.
    PERFORM pg_advisory_xact_lock(hashtext(p_run || '/' || p_step));
    INSERT INTO saga_crash.effect (run, step) VALUES (p_run, p_step);
    RETURN QUERY SELECT p_run, p_step;
END $$;
CREATE OR REPLACE FUNCTION saga_crash.undo(p_run text, p_step text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO saga_crash.effect (run, step) VALUES (p_run, 'undo:' || p_step)
$$;
-- The example connection's role owns nothing (README, Least privilege): it gets what these need.
GRANT USAGE ON SCHEMA saga_crash TO spo_target_executor;
GRANT SELECT, INSERT ON saga_crash.effect TO spo_target_executor;
GRANT EXECUTE ON FUNCTION saga_crash.act(text, text), saga_crash.undo(text, text) TO spo_target_executor;
"""


def crash_saga(pool) -> str:
    if requests.get(pool.url("/api/services/crash_saga"), timeout=10).status_code == 200:
        return "crash_saga"
    pool.psql(CRASH_SQL, db="demo")
    for name, function in (("crash_act", "saga_crash.act"), ("crash_undo", "saga_crash.undo")):
        create_live_service(pool, {
            "name": name, "kind": "procedure", "connection": "demo", "procedure": function,
            "parameters": [{"name": "p_run", "type": "text", "required": True},
                           {"name": "p_step", "type": "text", "required": True}], "timeout_ms": 60000})
    steps = [{"name": s, "service": "crash_act", "parameters": {"p_run": "$.input.p_run", "p_step": s},
              "compensation": {"service": "crash_undo", "parameters": {"p_run": "$.input.p_run", "p_step": s}}}
             for s in ("one", "two", "three")]
    create_live_service(pool, {"name": "crash_saga", "kind": "saga", "timeout_ms": 120000,
                               "parameters": [{"name": "p_run", "type": "text", "required": True}], "steps": steps})
    return "crash_saga"


def hold_lock(pool, key: str) -> subprocess.Popen:
    """A psql session holding the advisory lock `key` until it is killed."""
    holder = subprocess.Popen(
        ["env", f"PGAPPNAME=hold-{key}", "psql", "-X", "-q", "-h", pool.env["PGHOST"], "-p", pool.env["PGPORT"], "-U", pool.env["PGUSER"], "-d", "demo",
         "-c", f"SELECT pg_advisory_lock(hashtext('{key}'))", "-c", "SELECT pg_sleep(120)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: rows(pool, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                                f"objid::int = hashtext('{key}')", "demo") == [["1"]],
             15, interval=0.05, message="the test's lock to be held")
    return holder


def crash_at(pool, position: int, run_async: bool):
    service = crash_saga(pool)
    run = "run-" + uuid.uuid4().hex[:10]
    step = ("one", "two", "three")[position]
    holder = hold_lock(pool, f"{run}/{step}")
    answer: dict = {}
    if run_async:
        queued = pool.execute(service, {"p_run": run}, headers=ASYNC)
        assert queued.status_code == 202, queued.text
        saga_id = queued.json()["execution_id"]
    else:
        thread = threading.Thread(target=lambda: answer.update(r=pool.execute(service, {"p_run": run})))
        thread.start()
        saga_id = wait_for(lambda: (rows(pool, f"SELECT id FROM spo.saga WHERE input->>'p_run' = '{run}'", "spo")
                                    or [[None]])[0][0], 30, interval=0.05, message="the saga to start")
    # The saga log says where it is: step `position` running, blocked on the lock.
    wait_for(lambda: rows(pool, f"SELECT state FROM spo.saga_step WHERE saga_id = '{saga_id}' "
                                f"AND position = {position}", "spo") == [["running"]],
             30, interval=0.05, message=f"step {step} to run")
    runner = saga_row(pool, saga_id)["locked_by"]
    pid = int(runner.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    # Released only now: the rerun after recovery blocks on it too, until here.
    pool.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hold-{run}/{step}'",
              db="demo")
    holder.wait(10)
    try:
        wait_for(lambda: saga_row(pool, saga_id)["state"] == "completed", 60, interval=0.1,
                 message=f"recovery to complete saga {saga_id} (killed at step {step})")
    except AssertionError as error:
        raise AssertionError(f"{error}: {saga_row(pool, saga_id)} {events(pool, saga_id)}\n"
                             + "\n".join(line for line in pool.output().splitlines() if "saga" in line)[-4000:])
    effects = rows(pool, f"SELECT step FROM saga_crash.effect WHERE run = '{run}' ORDER BY at", "demo")
    assert effects == [["one"], ["two"], ["three"]], effects
    timeline = events(pool, saga_id)
    assert ("saga_recovered", "") in timeline and timeline[-1] == ("saga_completed", "")
    assert rows(pool, f"SELECT status FROM spo.service_execution WHERE id = '{saga_id}'", "spo") == [["succeeded"]]
    if not run_async:
        thread.join(30)
        assert answer["r"].status_code >= 500  # the worker died under the request


def test_kill_9_of_the_consumer_at_each_step_then_recovery_completes(pool):
    for position in range(3):
        crash_at(pool, position, run_async=True)
        pool.wait_pool(timeout=30)


def test_kill_9_of_the_worker_at_each_step_then_recovery_completes(pool):
    for position in range(3):
        crash_at(pool, position, run_async=False)
        pool.wait_pool(timeout=30)
