"""Live configuration: changes in the control database reach EVERY worker within 1 s, without a
restart, also while the workers are busy.

Every worker is asked directly over its own FastCGI socket (so "every" is checked, not hoped
for from nginx's balancing), plus a few requests through nginx. A background load keeps the
workers busy: a worker that only looks for notifications when idle, or misses one that libpq
buffered while it was writing an audit row, fails these tests.
"""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest

from e2e_support import Load, fastcgi

WITHIN = 1.0          # seconds: the requirement
PER_WORKER = 5        # requests per worker per round (4 workers: 20 requests)


def round_of_requests(spo, slots, service, parameters):
    """PER_WORKER requests to each worker directly, and 4 through nginx: [(where, status, body)]."""
    results = []
    for slot in slots:
        for _ in range(PER_WORKER):
            response = spo.execute_on(slot, service, parameters)
            results.append((slot, response.status, response.body.decode(errors="replace")))
    for _ in range(4):
        response = spo.execute(service, parameters)
        results.append(("nginx", response.status_code, response.text))
    return results


def assert_everywhere_within(spo, slots, changed_at, service, parameters, expect, what):
    """From `changed_at` (monotonic, just after the change committed), a full round of requests
    where every answer satisfies `expect` must complete within WITHIN; one more round right
    after must too (no worker flips back)."""
    deadline = changed_at + WITHIN
    attempts = []
    while True:
        results = round_of_requests(spo, slots, service, parameters)
        finished = time.monotonic()
        bad = [r for r in results if not expect(r[1], r[2])]
        attempts.append((round(finished - changed_at, 3), bad[:3]))
        if not bad and finished <= deadline:
            break
        if finished > deadline:
            pytest.fail(f"{what}: not every worker had it {WITHIN} s after the change; rounds (t, wrong answers): "
                        f"{attempts}")
    results = round_of_requests(spo, slots, service, parameters)
    bad = [r for r in results if not expect(r[1], r[2])]
    assert not bad, f"{what}: a worker went back to the old configuration: {bad[:3]}"
    return finished - changed_at


def is_code(status, code):
    return lambda s, body: s == status and json.loads(body)["error"]["code"] == code


def succeeded(s, body):
    return s == 200 and json.loads(body)["status"] == "succeeded"


def invalid(parameter):
    def check(s, body):
        if s != 400:
            return False
        error = json.loads(body)["error"]
        return error["code"] == "INVALID_PARAMETERS" and [d["parameter"] for d in error["details"]] == [parameter]

    return check


@pytest.fixture
def busy_pool(pool):
    """The pool under a steady background load on another service; the load must see no error."""
    slots = sorted(pool.workers())
    with Load(pool, threads=6, max_seconds=60) as load:
        time.sleep(0.3)
        yield pool, slots
    assert load.samples, "the background load sent nothing"
    assert not load.failures(), f"the background load failed: {load.failures()[:3]}"


def test_disable_and_enable_a_service(busy_pool):
    spo, slots = busy_pool
    try:
        assert all(s == 200 for _, s, _ in round_of_requests(spo, slots, "customer_count", {}))
        for round_number in range(2):
            spo.psql("UPDATE spo.service SET enabled = false WHERE name = 'customer_count'")
            changed = time.monotonic()
            assert_everywhere_within(spo, slots, changed, "customer_count", {}, is_code(404, "SERVICE_NOT_FOUND"),
                                     f"disable #{round_number + 1}")
            spo.psql("UPDATE spo.service SET enabled = true WHERE name = 'customer_count'")
            changed = time.monotonic()
            assert_everywhere_within(spo, slots, changed, "customer_count", {}, succeeded,
                                     f"re-enable #{round_number + 1}")
    finally:
        spo.psql("UPDATE spo.service SET enabled = true WHERE name = 'customer_count' AND NOT enabled")


PARAMETERS_OF_COUNT = (
    "SELECT c.parameters::text FROM spo.service_configuration c JOIN spo.service s ON s.id = c.service_id "
    "WHERE s.name = 'customer_count'"
)


def set_parameters_of_count(spo, parameters_json: str):
    spo.psql(
        "UPDATE spo.service_configuration c SET parameters = $json$" + parameters_json + "$json$::jsonb "
        "FROM spo.service s WHERE s.id = c.service_id AND s.name = 'customer_count'")


def test_changed_validation(busy_pool):
    spo, slots = busy_pool
    original = spo.psql(PARAMETERS_OF_COUNT).strip()
    parameters = json.loads(original)
    assert [p["name"] for p in parameters] == ["p_min_balance"] and "maximum" not in parameters[0]
    over = {"p_min_balance": 500}
    assert all(s == 200 for _, s, _ in round_of_requests(spo, slots, "customer_count", over))
    try:
        parameters[0]["maximum"] = 100
        set_parameters_of_count(spo, json.dumps(parameters))
        changed = time.monotonic()
        assert_everywhere_within(spo, slots, changed, "customer_count", over, invalid("p_min_balance"),
                                 "a new maximum")
        # Values inside the new range still run.
        assert spo.execute_on(slots[0], "customer_count", {"p_min_balance": 100}).status == 200
    finally:
        set_parameters_of_count(spo, original)
        changed = time.monotonic()
    assert_everywhere_within(spo, slots, changed, "customer_count", over, succeeded, "the maximum removed again")


def test_services_export_and_import(busy_pool, tmp_path):
    spo, slots = busy_pool
    exported = spo.spo("services", "export", "--control", spo.env["SPO_CONTROL_DB"]).stdout
    document = json.loads(exported)
    assert {"connections", "retry_policies", "services"} <= set(document)
    names = {s["name"] for s in document["services"]}
    assert {"customer_get", "customer_count", "slow"} <= names
    assert all("password" not in json.dumps(c).replace("password_from", "") for c in document["connections"])

    changed_document = copy.deepcopy(document)
    service = next(s for s in changed_document["services"] if s["name"] == "customer_count")
    description = f"changed by the e2e suite {uuid.uuid4()}"
    service["description"] = description
    # The description is not visible in an execution; a validation change made in the same
    # import is, so it shows when each worker has the imported version.
    service["parameters"][0]["maximum"] = 200
    path = tmp_path / "services.json"
    path.write_text(json.dumps(changed_document, indent=2))
    over = {"p_min_balance": 500}
    try:
        result = spo.spo("services", "import", str(path), "--control", spo.env["SPO_CONTROL_DB"])
        changed = time.monotonic()
        assert "imported" in result.stdout, result.stdout
        assert_everywhere_within(spo, slots, changed, "customer_count", over, invalid("p_min_balance"),
                                 "an imported service document")
        assert spo.psql("SELECT description FROM spo.service WHERE name = 'customer_count'").strip() == description
        again = json.loads(spo.spo("services", "export", "--control", spo.env["SPO_CONTROL_DB"]).stdout)
        assert next(s for s in again["services"] if s["name"] == "customer_count")["description"] == description
        # Where the API shows a service (GET /api/services/{name}), every worker shows the new text.
        for slot in slots:
            response = fastcgi(spo.direct_path(slot), "GET", "/api/services/customer_count")
            if response.status == 200:
                assert response.json()["description"] == description, (slot, response.body)
    finally:
        # Importing the original export restores everything, through the same path.
        path.write_text(exported)
        spo.spo("services", "import", str(path), "--control", spo.env["SPO_CONTROL_DB"])
        changed = time.monotonic()
    assert_everywhere_within(spo, slots, changed, "customer_count", over, succeeded, "the original document")
    assert json.loads(spo.spo("services", "export", "--control", spo.env["SPO_CONTROL_DB"]).stdout) == document
