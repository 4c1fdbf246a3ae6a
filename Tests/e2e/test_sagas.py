"""The saga read API through nginx and the pool: GET /api/sagas (filters, cursor pages, 400s) and
GET /api/sagas/{id} (the step timeline; admin keys and the key that started it), over saga rows
written with SQL as the engine writes them; answers checked against the OpenAPI document."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from e2e_support import fastcgi, wait_for
from saga_rows import insert_saga
from test_openapi_conformance import conforms


@pytest.fixture(scope="module")
def document(spo):
    response = requests.get(spo.url("/api/openapi.json"), timeout=10)
    assert response.status_code == 200
    return response.json()


def get(spo, path: str, **kwargs) -> requests.Response:
    return requests.get(spo.url(path), timeout=30, **kwargs)


def executor_key(spo, name: str) -> tuple[str, str]:
    """A new executor key, known to every worker; (key, prefix)."""
    created = spo.spo("keys", "create", "--name", name, "--role", "executor", "--grant", "*").stdout
    key = re.search(r"spo_([0-9a-f]+)_[0-9a-f]+", created)
    wait_for(lambda: all(fastcgi(spo.direct_path(slot), "GET", "/api/health/services",
                                 headers={"Authorization": f"Bearer {key.group(0)}"}).status == 403
                         for slot in spo.workers()), 5, interval=0.05, message="the key known to every worker")
    return key.group(0), key.group(1)


def test_a_saga_reads_back_with_its_timeline(spo, document):
    saga_id = insert_saga(spo, service="e2e_timeline", state="compensation_failed",
                          error={"code": "SP_EXECUTION_FAILED", "step": "ship"},
                          steps=[{"name": "reserve", "state": "done", "compensation": "done"},
                                 {"name": "charge", "state": "done", "compensation": "failed"},
                                 {"name": "ship", "state": "failed"}])
    saga = conforms(document, "/api/sagas/{id}", "get", get(spo, f"/api/sagas/{saga_id}"))
    assert (saga["id"], saga["service"], saga["state"], saga["last_step"]) == (
        saga_id, "e2e_timeline", "compensation_failed", "ship")
    assert [s["name"] for s in saga["steps"]] == ["reserve", "charge", "ship"]
    assert [s["state"] for s in saga["steps"]] == ["done", "done", "failed"]
    assert [s["compensation"] and s["compensation"]["state"] for s in saga["steps"]] == ["done", "failed", None]
    assert saga["steps"][1]["compensation"]["error"]["code"] == "DB_CONNECTION_FAILED"
    assert saga["steps"][0]["output"] == [{"id": 0}]
    events = [(e["event"], e["step"]) for e in saga["events"]]
    assert events == [("saga_started", None),
                      ("step_started", "reserve"), ("step_done", "reserve"),
                      ("step_started", "charge"), ("step_done", "charge"),
                      ("step_started", "ship"), ("step_failed", "ship"),
                      ("compensation_failed", "charge"), ("compensation_done", "reserve"),
                      ("saga_compensation_failed", None)]
    assert [e["id"] for e in saga["events"]] == sorted(e["id"] for e in saga["events"])


def test_sagas_page_by_cursor_filtered_by_state_and_service(spo, document):
    service = f"e2e_pages_{uuid.uuid4().hex[:6]}"
    made = [(insert_saga(spo, service=service, state=state), state)
            for state in ["completed", "compensated", "completed", "failed", "completed", "compensated", "completed"]]
    newest_first = [saga_id for saga_id, _ in reversed(made)]

    def walk(params: dict) -> list[str]:
        ids, cursor, pages = [], None, 0
        while True:
            response = get(spo, "/api/sagas", params={**params, **({"cursor": cursor} if cursor else {})})
            page = conforms(document, "/api/sagas", "get", response)
            pages += 1
            assert len(page["items"]) <= int(params["limit"])
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
            assert cursor == ids[-1]
            insert_saga(spo, service=service, state="started")  # newer than the cursor: on no later page

    assert walk({"service": service, "limit": "3"})[-7:] == newest_first
    assert walk({"service": service, "state": "completed", "limit": "2"}) == [
        saga_id for saga_id, state in reversed(made) if state == "completed"]
    assert walk({"service": service, "state": "compensated", "limit": "1"}) == [
        saga_id for saga_id, state in reversed(made) if state == "compensated"]
    empty = get(spo, "/api/sagas", params={"service": service, "state": "compensating"})
    assert empty.status_code == 200 and empty.json() == {"items": [], "next_cursor": None}


def test_bad_listing_parameters_are_400_naming_each(spo, document):
    response = get(spo, "/api/sagas", params={"state": "done", "limit": "501", "cursor": "x", "since": "today"})
    error = conforms(document, "/api/sagas", "get", response)["error"]
    assert response.status_code == 400 and error["code"] == "INVALID_PARAMETERS"
    assert sorted(d["parameter"] for d in error["details"]) == ["cursor", "limit", "since", "state"]
    assert error["reference"]


def test_only_admin_keys_and_the_key_that_started_a_saga_read_it(spo, document):
    suffix = uuid.uuid4().hex[:6]
    starter, prefix = executor_key(spo, f"saga-starter-{suffix}")
    other, _ = executor_key(spo, f"saga-other-{suffix}")
    try:
        saga_id = insert_saga(spo, owner_key=prefix)
        anonymous = insert_saga(spo, owner_key=None)
        own = get(spo, f"/api/sagas/{saga_id}", headers={"Authorization": f"Bearer {starter}"})
        assert conforms(document, "/api/sagas/{id}", "get", own)["id"] == saga_id
        for key, path in [(other, f"/api/sagas/{saga_id}"), (starter, f"/api/sagas/{anonymous}")]:
            refused = get(spo, path, headers={"Authorization": f"Bearer {key}"})
            assert refused.status_code == 404 and conforms(
                document, "/api/sagas/{id}", "get", refused)["error"]["code"] == "NOT_FOUND"
        assert get(spo, f"/api/sagas/{saga_id}").status_code == 200  # the suite's admin key
        listing = get(spo, "/api/sagas", headers={"Authorization": f"Bearer {starter}"})
        assert listing.status_code == 403 and listing.json()["error"]["code"] == "FORBIDDEN"
        assert get(spo, f"/api/sagas/{saga_id}", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        spo.spo("keys", "revoke", f"saga-starter-{suffix}")
        spo.spo("keys", "revoke", f"saga-other-{suffix}")


def test_an_unknown_saga_is_404(spo, document):
    for saga_id in (str(uuid.uuid4()), "not-a-saga"):
        response = get(spo, f"/api/sagas/{saga_id}")
        assert response.status_code == 404, response.text
        assert conforms(document, "/api/sagas/{id}", "get", response)["error"]["code"] == "NOT_FOUND"
