"""Seed 004's enrolment saga (examples/flow-004-enrolment.json over examples/enrolment.sql):
a student enrolled in two groups as one saga, run asynchronously (Prefer: respond-async), made safe
to repeat by its required Idempotency-Key, compensated when a group refuses, and refused at once by
the enrolment connection's circuit breaker while its database is away.
The step services are tested as plain services in test_flow_004_steps.py."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from e2e_support import REPO, fastcgi, wait_for

DOCUMENT = REPO / "examples" / "flow-004-enrolment.json"
SAGA = "enrolment_register"


def rows(spo, sql: str) -> list[list[str]]:
    return [line.split("|") for line in spo.psql(sql, db="enrolment").splitlines() if line]


@pytest.fixture(scope="module")
def saga(spo):
    """The saga service of the example document, which the dev instance imported with its step
    services, live on every worker."""
    document = json.loads(DOCUMENT.read_text())
    assert SAGA in [s["name"] for s in document["services"] if s.get("kind") == "saga"]
    path = f"/api/services/{SAGA}/execute"
    wait_for(lambda: all(path in fastcgi(spo.direct_path(slot), "GET", "/api/openapi.json").json()["paths"]
                         for slot in spo.workers()), 10, interval=0.05, message="the saga live on every worker")
    return SAGA


@pytest.fixture
def student(spo):
    student_id = f"EST{uuid.uuid4().int % 800 + 200:03d}"
    spo.psql(f"INSERT INTO enrolment.student (id, name) VALUES ('{student_id}', 'Saga student')"
             " ON CONFLICT DO NOTHING", db="enrolment")
    spo.psql(f"UPDATE enrolment.enrolment SET status = 'cancelled' WHERE student_id = '{student_id}'", db="enrolment")
    return student_id


def seats(spo, group: str) -> int:
    return int(rows(spo, f"SELECT enrolled FROM enrolment.course_group WHERE code = '{group}'")[0][0])


def start(spo, body: dict, key: str) -> requests.Response:
    return spo.execute(SAGA, body, headers={"Prefer": "respond-async", "Idempotency-Key": key})


def settled(spo, execution_id: str) -> dict:
    def done():
        execution = requests.get(spo.url(f"/api/executions/{execution_id}"), timeout=30).json()
        return execution if execution.get("status") not in ("queued", "running") else None
    return wait_for(done, 60, interval=0.1, message=f"saga execution {execution_id} to settle")


def saga_document(spo, saga_id: str) -> dict:
    response = requests.get(spo.url(f"/api/sagas/{saga_id}"), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_enrolment_saga_runs_async_and_a_replay_starts_no_second_saga(spo, saga, student):
    before = {g: seats(spo, g) for g in ("G-ELC102-E", "G-ELC106-E")}
    body = {"p_student": student, "p_term": "2024-2", "p_group_1": "G-ELC102-E", "p_group_2": "G-ELC106-E"}
    key = f"enrol-{uuid.uuid4()}"
    accepted = start(spo, body, key)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Preference-Applied"] == "respond-async"
    execution_id = accepted.json()["execution_id"]
    assert accepted.headers["Location"] == f"/api/executions/{execution_id}"

    assert settled(spo, execution_id)["status"] == "succeeded"
    document = saga_document(spo, execution_id)
    assert document["state"] == "completed" and document["service"] == SAGA
    assert [(s["name"], s["state"]) for s in document["steps"]] == [
        ("enrol_first", "done"), ("enrol_second", "done"), ("register", "done")]
    assert [e["event"] for e in document["events"]][0] == "saga_started"
    assert [e["event"] for e in document["events"]][-1] == "saga_completed"
    enrolled = rows(spo, f"SELECT group_code FROM enrolment.enrolment WHERE student_id = '{student}'"
                         " AND status = 'active' ORDER BY group_code")
    assert enrolled == [["G-ELC102-E"], ["G-ELC106-E"]]
    assert {g: seats(spo, g) for g in before} == {g: n + 1 for g, n in before.items()}

    # The same request again: the stored answer, no second saga, no second seat.
    replay = start(spo, body, key)
    assert replay.status_code == 202 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["execution_id"] == execution_id
    assert spo.psql(f"SELECT count(*) FROM spo.saga WHERE service_name = '{SAGA}'"
                    f" AND input ->> 'p_student' = '{student}'").strip() == "1"
    assert len(rows(spo, f"SELECT 1 FROM enrolment.registration WHERE student_id = '{student}'")) == 1
    assert {g: seats(spo, g) for g in before} == {g: n + 1 for g, n in before.items()}
    # Without a key the saga is refused before anything runs.
    keyless = spo.execute(SAGA, body, headers={"Prefer": "respond-async"})
    assert keyless.status_code == 400 and keyless.json()["error"]["code"] == "IDEMPOTENCY_KEY_INVALID"


def test_a_full_second_group_gives_the_first_seat_back(spo, saga, student):
    before = seats(spo, "G-MAT201-A")
    body = {"p_student": student, "p_term": "2024-2", "p_group_1": "G-MAT201-A", "p_group_2": "G-FIS100-A"}
    accepted = start(spo, body, f"enrol-{uuid.uuid4()}")
    assert accepted.status_code == 202, accepted.text
    execution_id = accepted.json()["execution_id"]
    assert settled(spo, execution_id)["status"] == "failed"
    document = saga_document(spo, execution_id)
    assert document["state"] == "compensated"
    first, second = document["steps"][:2]
    assert (first["name"], first["state"], first["compensation"]["state"]) == ("enrol_first", "done", "done")
    assert (second["name"], second["state"]) == ("enrol_second", "failed")
    assert "register" not in [s["name"] for s in document["steps"]]
    events = [(e["event"], e["step"]) for e in document["events"]]
    assert events.index(("step_failed", "enrol_second")) < events.index(("compensation_done", "enrol_first"))
    assert events[-1] == ("saga_compensated", None)
    assert seats(spo, "G-MAT201-A") == before
    assert rows(spo, f"SELECT status FROM enrolment.enrolment WHERE student_id = '{student}'") == [["cancelled"]]


def test_the_breaker_of_the_enrolment_connection_answers_circuit_open(spo, saga, student):
    body = {"p_student": student, "p_term": "2024-2", "p_group_1": "G-ELC102-E", "p_group_2": "G-ELC106-E"}
    try:
        spo.psql("ALTER DATABASE enrolment ALLOW_CONNECTIONS false")
        spo.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'enrolment'"
                 " AND pid <> pg_backend_pid()")

        def refused_at_once():
            answer = spo.execute(SAGA, body, headers={"Idempotency-Key": f"enrol-{uuid.uuid4()}"})
            # A list: a Response answering 503 is falsy.
            return [answer] if answer.status_code == 503 and answer.json()["error"]["code"] == "CIRCUIT_OPEN" else None

        [refused] = wait_for(refused_at_once, 60, interval=0.05, message="the saga refused with CIRCUIT_OPEN")
        assert refused.headers.get("Retry-After")
        started = time.monotonic()
        again = spo.execute(SAGA, body, headers={"Idempotency-Key": f"enrol-{uuid.uuid4()}"})
        assert again.status_code == 503 and again.json()["error"]["code"] == "CIRCUIT_OPEN"
        assert time.monotonic() - started < 2  # nothing was tried against the database
        assert requests.get(spo.url("/api/connections/enrolment"), timeout=30).json()["breaker_state"]["state"] == "open"
    finally:
        spo.psql("ALTER DATABASE enrolment ALLOW_CONNECTIONS true")
        assert requests.post(spo.url("/api/connections/enrolment/breaker/reset"), timeout=30).status_code == 200
    assert rows(spo, f"SELECT count(*) FROM enrolment.enrolment WHERE student_id = '{student}'") == [["0"]]
