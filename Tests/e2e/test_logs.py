"""Structured logs and the correlation id's journey: one id from the client (or nginx) through the
worker's JSON log lines, the audit row, the target database's session and nginx's JSON access log."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from e2e_support import UUID_RE, correlation_id, create_live_service, wait_for

NOTICE_FUNCTION = """
CREATE OR REPLACE FUNCTION demo.e2e_chatty(p_word text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'e2e says % in %', p_word, current_setting('spo.correlation_id', true);
    RETURN current_setting('application_name');
END $$;
"""


@pytest.fixture(scope="module")
def chatty(spo):
    """A service whose function raises a NOTICE (live on every worker), deleted at the end."""
    spo.psql(NOTICE_FUNCTION, db="demo")
    name = f"e2e_chatty_{uuid.uuid4().hex[:8]}"
    document = {"name": name, "connection": "demo", "procedure": "demo.e2e_chatty", "parameters": "discover"}
    create_live_service(spo, document)
    yield name
    requests.delete(spo.url(f"/api/services/{name}"), timeout=30)


def log_lines(spo) -> list[dict]:
    """Every JSON line the instance's processes wrote (spo dev, the supervisor, the workers)."""
    return [json.loads(line) for line in spo.output().splitlines() if line.startswith("{")]


def lines_with(spo, correlation: str, count: int = 1) -> list[dict]:
    found: list[dict] = []

    def enough():
        found[:] = [line for line in log_lines(spo) if line.get("correlation_id") == correlation]
        return len(found) >= count

    wait_for(enough, 10, interval=0.05, message=f"{count} log line(s) with correlation_id {correlation}")
    return found


def access_line(spo, correlation: str) -> dict:
    """The nginx access log's line for the request (nginx flushes its buffer within a second)."""
    found: list[dict] = []

    def logged():
        try:
            with open(f"{spo.state_dir}/log/access.log") as f:
                found[:] = [json.loads(line) for line in f if correlation in line]
        except OSError:
            return False
        return bool(found)

    wait_for(logged, 10, interval=0.1, message=f"an access log line with {correlation}")
    assert len(found) == 1, found
    return found[0]


def test_one_correlation_id_in_the_logs_the_audit_the_session_and_the_access_log(spo, chatty):
    given = correlation_id()
    response = spo.execute(chatty, {"p_word": "hello"}, headers={"X-Correlation-ID": given})
    assert response.status_code == 200, response.text
    assert response.headers["X-Correlation-ID"] == given
    execution_id = response.headers["X-Execution-ID"]
    # The database session of the call was tagged (application_name as pg_stat_activity shows it).
    assert response.json()["data"] == f"spo:{given}"

    # The worker's JSON lines: the procedure's NOTICE, with the request's ids, without any call site
    # passing them.
    lines = lines_with(spo, given)
    notice = next(line for line in lines if line["component"] == "postgres")
    assert notice["event"] == f"e2e says hello in {given}"
    assert notice["level"] == "info" and notice["severity"] == "NOTICE" and notice["sqlstate"] == "00000"
    assert notice["execution_id"] == execution_id
    assert notice["service"] == chatty
    assert list(notice)[:5] == ["time", "level", "component", "pid", "event"]
    assert notice["pid"] in spo.workers().values()
    assert UUID_RE.match(execution_id)

    # The audit row.
    row = spo.psql(f"SELECT correlation_id, status FROM spo.service_execution WHERE id = '{execution_id}'").strip()
    assert row == f"{given}|succeeded", row

    # nginx's JSON access log line.
    access = access_line(spo, given)
    assert access["correlation_id"] == given and access["correlation_id_in"] == given
    assert access["status"] == 200 and access["request_method"] == "POST"
    assert access["uri"] == f"/api/services/{chatty}/execute"
    assert access["execution_id"] == execution_id
    assert isinstance(access["request_time"], (int, float))
    assert access["upstream_response_time"] not in ("", "-")


def test_a_failed_execution_logs_a_warning_with_its_ids(spo):
    given = correlation_id()
    response = spo.execute("business_failure", {}, headers={"X-Correlation-ID": given})
    assert response.status_code == 422, response.text
    execution_id = response.headers["X-Execution-ID"]
    warning = next(line for line in lines_with(spo, given) if line["event"] == "execution failed")
    assert warning["level"] == "warning" and warning["component"] == "worker"
    assert warning["execution_id"] == execution_id
    assert warning["service"] == "business_failure"
    assert warning["reference"] == response.json()["error"]["reference"]
    assert warning["sqlstate"] == "P0001"


def test_nginx_makes_the_id_when_the_client_sends_none(spo, chatty):
    response = spo.execute(chatty, {"p_word": "anonymous"})
    assert response.status_code == 200, response.text
    made = response.headers["X-Correlation-ID"]
    assert UUID_RE.match(made), made
    access = access_line(spo, made)
    # Made by nginx from its request id, and the one the worker, the session and the logs used.
    assert access["request_id"] == made.replace("-", "")
    assert access["correlation_id_in"] == ""
    assert response.json()["data"] == f"spo:{made}"
    assert any(line["component"] == "postgres" for line in lines_with(spo, made))


def test_an_answer_nginx_gives_itself_has_an_id_too(spo):
    given = correlation_id()
    response = requests.post(spo.url("/api/services/customer_get/execute"), data=b" " * (1024 * 1024 + 1),
                             headers={"X-Correlation-ID": given}, timeout=30)
    assert response.status_code == 413
    assert response.headers["X-Correlation-ID"] == given
    access = access_line(spo, given)
    assert access["status"] == 413 and access["correlation_id"] == given


def test_every_log_line_is_json(spo, chatty):
    spo.execute(chatty, {"p_word": "again"}, headers={"X-Correlation-ID": correlation_id()})
    text = spo.output()
    # Lines of the processes' logs are JSON objects, one per line; libpq's plain-text notices
    # ("NOTICE:  …") are gone. (spo dev's welcome text, for a person, is not a log line.)
    assert "NOTICE:  " not in text
    logged = [line for line in text.splitlines() if line.startswith("{")]
    assert len(logged) > 5
    for line in logged:
        entry = json.loads(line)
        assert {"time", "level", "component", "pid", "event"} <= entry.keys(), line
    with open(f"{spo.state_dir}/log/access.log") as f:
        for line in f:
            json.loads(line)
