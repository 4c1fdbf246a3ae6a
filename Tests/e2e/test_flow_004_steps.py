"""Seed 004's enrolment steps (examples/enrolment.sql + examples/flow-004-enrolment.json) as the
plain services they are, through nginx: a seat taken and given back (the compensation, safe to
repeat), the refusals that make the saga compensate, the registration, and the circuit breaker of
the `enrolment` connection opening when its database goes away (CIRCUIT_OPEN, nothing sent).
The saga that chains them is tested in test_flow_004.py."""

from __future__ import annotations

import uuid

import pytest
import requests

from e2e_support import wait_for


def rows(spo, sql: str) -> list[list[str]]:
    return [line.split("|") for line in spo.psql(sql, db="enrolment").splitlines() if line]


@pytest.fixture
def student(spo):
    """A student of this test's own, so other tests' enrolments do not meet it."""
    student_id = f"EST{uuid.uuid4().int % 800 + 200:03d}"
    spo.psql(f"INSERT INTO enrolment.student (id, name) VALUES ('{student_id}', 'Test student')"
             " ON CONFLICT DO NOTHING", db="enrolment")
    spo.psql(f"UPDATE enrolment.enrolment SET status = 'cancelled' WHERE student_id = '{student_id}'", db="enrolment")
    return student_id


def seats(spo, group: str) -> int:
    return int(rows(spo, f"SELECT enrolled FROM enrolment.course_group WHERE code = '{group}'")[0][0])


def test_a_seat_is_taken_and_given_back_once(spo, student):
    before = seats(spo, "G-ELC102-E")
    enrolled = spo.execute("enrolment_enrol", {"p_student": student, "p_term": "2024-2", "p_group": "G-ELC102-E"})
    assert enrolled.status_code == 200, enrolled.text
    enrolment = enrolled.json()["data"][0]
    assert (enrolment["student_id"], enrolment["group_code"], enrolment["status"]) == (student, "G-ELC102-E", "active")
    assert seats(spo, "G-ELC102-E") == before + 1
    listed = spo.execute("enrolment_list", {"p_student": student, "p_term": "2024-2"})
    assert [e["enrolment_id"] for e in listed.json()["data"]] == [enrolment["enrolment_id"]]

    # The compensation: the seat back, and a retried compensation changes nothing more.
    for _ in range(2):
        cancelled = spo.execute("enrolment_cancel", {"p_enrolment_id": enrolment["enrolment_id"]})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["data"][0]["status"] == "cancelled"
        assert seats(spo, "G-ELC102-E") == before
    assert spo.execute("enrolment_list", {"p_student": student, "p_term": "2024-2"}).json()["data"] == []


@pytest.mark.parametrize("group, term, reason", [
    ("G-FIS100-A", "2024-2", "is full"),
    ("G-ELC102-OLD", "2024-1", "is not open"),
    ("G-ELC102-OLD", "2024-2", "is not offered"),
])
def test_a_refused_enrolment_takes_no_seat(spo, student, group, term, reason):
    before = seats(spo, group)
    refused = spo.execute("enrolment_enrol", {"p_student": student, "p_term": term, "p_group": group})
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["error"]["details"][0]["message"]
    assert seats(spo, group) == before
    assert rows(spo, f"SELECT count(*) FROM enrolment.enrolment WHERE student_id = '{student}'"
                     " AND status = 'active'") == [["0"]]


def test_the_registration_names_two_active_enrolments(spo, student):
    ids = []
    for group in ("G-ELC106-E", "G-MAT201-A"):
        answer = spo.execute("enrolment_enrol", {"p_student": student, "p_term": "2024-2", "p_group": group})
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["data"][0]["enrolment_id"])
    twice = spo.execute("enrolment_enrol", {"p_student": student, "p_term": "2024-2", "p_group": "G-ELC106-E"})
    assert twice.status_code == 422 and "already enrolled" in twice.json()["error"]["details"][0]["message"]
    recorded = spo.execute("enrolment_record", {"p_student": student, "p_term": "2024-2",
                                                "p_first_enrolment": ids[0], "p_second_enrolment": ids[1]})
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["data"][0]["enrolment_ids"] == ids
    assert spo.execute("enrolment_cancel", {"p_enrolment_id": ids[1]}).status_code == 200
    stale = spo.execute("enrolment_record", {"p_student": student, "p_term": "2024-2",
                                             "p_first_enrolment": ids[0], "p_second_enrolment": ids[1]})
    assert stale.status_code == 422
    bad = spo.execute("enrolment_enrol", {"p_student": "nobody", "p_term": "2024-2", "p_group": "G-ELC106-E"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_PARAMETERS"


def test_the_enrolment_breaker_opens_when_its_database_goes_away(spo, student):
    """window_calls 4, minimum_calls 4, 50 %: a failing database opens it within a few calls, then
    calls answer 503 CIRCUIT_OPEN at once without reaching the database."""
    connection = requests.get(spo.url("/api/connections/enrolment"), timeout=30).json()
    assert connection["breaker"]["window_calls"] == 4 and connection["breaker"]["minimum_calls"] == 4
    body = {"p_student": student, "p_term": "2024-2"}
    try:
        spo.psql("ALTER DATABASE enrolment ALLOW_CONNECTIONS false")
        spo.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'enrolment'"
                 " AND pid <> pg_backend_pid()")
        codes = []

        def opened():
            answer = spo.execute("enrolment_list", body)
            codes.append(answer.json()["error"]["code"] if answer.status_code != 200 else "OK")
            # A list: a Response answering 503 is falsy.
            return [answer] if answer.json().get("error", {}).get("code") == "CIRCUIT_OPEN" else None

        try:
            [refused] = wait_for(opened, 60, interval=0.05, message="the enrolment breaker to open")
        except AssertionError as error:
            raise AssertionError(f"{error}; answers: {codes[:10]} … {codes[-5:]}") from None
        assert refused.status_code == 503 and refused.headers.get("Retry-After")
        assert set(codes[:-1]) <= {"DB_CONNECTION_FAILED", "CIRCUIT_OPEN", "OK"}, codes
        state = requests.get(spo.url("/api/connections/enrolment"), timeout=30).json()["breaker_state"]
        assert state["state"] == "open"
        # Open on every worker: each answers at once, without trying the database.
        for slot in spo.workers():
            wait_for(lambda: spo.execute_on(slot, "enrolment_list", body).status == 503, 5, interval=0.05,
                     message=f"worker {slot} to refuse with CIRCUIT_OPEN")
            assert spo.execute_on(slot, "enrolment_list", body).json()["error"]["code"] == "CIRCUIT_OPEN"
    finally:
        spo.psql("ALTER DATABASE enrolment ALLOW_CONNECTIONS true")
        reset = requests.post(spo.url("/api/connections/enrolment/breaker/reset"), timeout=30)
        assert reset.status_code == 200, reset.text
    wait_for(lambda: spo.execute("enrolment_list", body).status_code == 200, 10, interval=0.1,
             message="the enrolment service answering again")
