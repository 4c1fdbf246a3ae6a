"""GET /api/openapi.json: a valid OpenAPI 3 document generated from the live configuration, so a
service disabled or enabled in the control database shows on the next request (within the 1 s
every worker takes to reload), on every worker.

Needs openapi-spec-validator (from PyPI; `make test` installs it into .build/venv).
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from openapi_spec_validator import validate

from e2e_support import REPO, fastcgi

WITHIN = 1.0  # seconds: the reload requirement
EXAMPLES = json.loads((REPO / "examples" / "services.json").read_text())
# The dev instance imports every examples/*.json (the example flows' documents too).
EXAMPLE_SERVICES = [service for path in sorted((REPO / "examples").glob("*.json"))
                    for service in json.loads(path.read_text()).get("services", [])]
ADMIN_PATHS = [
    "/api/services", "/api/services/{name}", "/api/connections", "/api/connections/{name}", "/api/retry-policies",
    "/api/retry-policies/{name}", "/api/executions", "/api/executions/{id}", "/api/executions/{id}/reprocess",
    "/api/executions/status", "/api/errors/{reference}", "/api/health", "/api/health/services", "/api/openapi.json",
]


def fetch(spo) -> tuple[dict, str]:
    """The document through nginx, parsed and as text."""
    response = requests.get(spo.url("/api/openapi.json"), timeout=10)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json(), response.text


def execute_paths(document: dict) -> set[str]:
    return {path for path in document["paths"] if path.startswith("/api/services/") and path.endswith("/execute")}


def every_worker_and_nginx(spo, slots) -> list[tuple[str, dict]]:
    """The document from each worker directly (nginx would spread requests unevenly), and twice through nginx."""
    documents = []
    for slot in slots:
        response = fastcgi(spo.direct_path(slot), "GET", "/api/openapi.json")
        assert response.status == 200, (slot, response.body[:500])
        documents.append((slot, json.loads(response.body)))
    documents += [("nginx", fetch(spo)[0]) for _ in range(2)]
    return documents


def test_document_is_valid_openapi_with_every_example_service(spo):
    document, _ = fetch(spo)
    validate(document)
    assert document["openapi"].startswith("3.0.")
    expected = {f"/api/services/{s['name']}/execute" for s in EXAMPLE_SERVICES if s.get("enabled", True)}
    assert execute_paths(document) == expected
    for path in ADMIN_PATHS:
        assert path in document["paths"], path
    envelope = document["paths"]["/api/execute"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert envelope["properties"]["service"]["enum"] == sorted(s["name"] for s in EXAMPLE_SERVICES)


def test_request_schemas_follow_the_configuration(spo):
    document, text = fetch(spo)
    for service in EXAMPLES["services"]:
        operation = document["paths"][f"/api/services/{service['name']}/execute"]["post"]
        assert operation["operationId"] == f"execute_{service['name']}"
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        inputs = [p for p in service["parameters"] if p.get("direction", "IN") != "OUT"]
        assert list(schema["properties"]) == [p["name"] for p in inputs], service["name"]
        assert schema.get("required", []) == [p["name"] for p in inputs if p.get("required")], service["name"]
        assert schema["additionalProperties"] is False
        for status in ("400", "404", "502", "503", "504"):
            assert status in operation["responses"], (service["name"], status)

    def parameter(service, name):
        operation = document["paths"][f"/api/services/{service}/execute"]["post"]
        return operation["requestBody"]["content"]["application/json"]["schema"]["properties"][name]

    p_id = parameter("customer_get", "p_id")
    assert (p_id["type"], p_id["format"], p_id["minimum"], p_id["maximum"]) == ("integer", "int32", 1, 2147483647)
    assert parameter("customer_search", "p_limit")["default"] == 10
    assert parameter("flaky", "p_key")["pattern"] == "^[A-Za-z0-9_.:-]+$"
    assert parameter("flaky", "p_key")["maxLength"] == 100
    assert parameter("echo_types", "p_varchar")["maxLength"] == 20
    assert parameter("echo_types", "p_uuid")["format"] == "uuid"
    assert parameter("echo_types", "p_int_array")["type"] == "array"
    assert [branch["type"] for branch in parameter("echo_types", "p_bigint")["oneOf"]] == ["integer", "string"]
    # The exact bound, not a double's rounding of it.
    assert '"minimum":0.01' in text
    transfer = document["paths"]["/api/services/transfer/execute"]["post"]["responses"]["200"]
    data = transfer["content"]["application/json"]["schema"]["properties"]["data"]
    assert list(data["properties"]) == ["p_from_balance", "p_to_balance", "p_reference"]


def test_every_worker_answers_the_same_text(pool):
    slots = sorted(pool.workers())
    texts = {fastcgi(pool.direct_path(slot), "GET", "/api/openapi.json").body for slot in slots}
    texts.add(fetch(pool)[1].encode())
    assert len(texts) == 1, "workers with the same configuration answered different documents"


def test_a_disabled_service_leaves_the_document_and_comes_back(pool):
    spo = pool
    slots = sorted(spo.workers())
    path = "/api/services/big_numbers/execute"
    assert path in fetch(spo)[0]["paths"]

    def everywhere_within(changed_at: float, present: bool, what: str):
        """From `changed_at`, a round in which every worker and nginx agree must start within WITHIN
        (a round reads every worker's whole document: on a loaded machine it can take longer itself)."""
        rounds = []
        while True:
            started = time.monotonic() - changed_at
            wrong = [where for where, document in every_worker_and_nginx(spo, slots)
                     if (path in document["paths"]) != present]
            rounds.append((round(started, 3), wrong))
            if not wrong and started <= WITHIN:
                return
            if started > WITHIN:
                pytest.fail(f"{what}: not everywhere {WITHIN} s after the change; rounds (t, wrong): {rounds}")

    try:
        spo.psql("UPDATE spo.service SET enabled = false WHERE name = 'big_numbers'")
        # The document is read from the tables, so the very next request already agrees, on every worker.
        assert all(path not in document["paths"] for _, document in every_worker_and_nginx(spo, slots))
        everywhere_within(time.monotonic(), present=False, what="disabled")
        document, _ = fetch(spo)
        validate(document)
        envelope = document["paths"]["/api/execute"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "big_numbers" not in envelope["properties"]["service"]["enum"]
    finally:
        spo.psql("UPDATE spo.service SET enabled = true WHERE name = 'big_numbers' AND NOT enabled")
    everywhere_within(time.monotonic(), present=True, what="enabled again")
    validate(fetch(spo)[0])
