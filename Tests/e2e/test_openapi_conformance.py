"""The OpenAPI document describes what the server really answers: each administration and execution
response, taken live, validates against the schema the document declares for its path, method and
status (OpenAPI 3.0 schema semantics, `nullable` included, via openapi-schema-validator)."""

from __future__ import annotations

import uuid

import pytest
import requests
from openapi_schema_validator import OAS30Validator


@pytest.fixture(scope="module")
def document(spo):
    response = requests.get(spo.url("/api/openapi.json"), timeout=10)
    assert response.status_code == 200
    return response.json()


def schema_for(document: dict, path: str, method: str, status: int) -> dict:
    """The declared response schema, wrapped so `#/components/...` references resolve."""
    operation = document["paths"][path][method]
    assert str(status) in operation["responses"], f"{method.upper()} {path} answered {status}, not documented"
    response = operation["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def conforms(document: dict, template: str, method: str, response: requests.Response):
    body = response.json()
    errors = sorted(OAS30Validator(schema_for(document, template, method, response.status_code)).iter_errors(body),
                    key=lambda e: list(e.path))
    assert not errors, f"{method.upper()} {template} {response.status_code}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5])
    return body


def call(spo, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, spo.url(path), timeout=30, **kwargs)


def test_configuration_reads_match_the_document(spo, document):
    for template, path in [("/api/services", "/api/services"), ("/api/services/{name}", "/api/services/transfer"),
                           ("/api/connections", "/api/connections"),
                           ("/api/connections/{name}", "/api/connections/demo"),
                           ("/api/retry-policies", "/api/retry-policies"),
                           ("/api/retry-policies/{name}", "/api/retry-policies/default"),
                           ("/api/health/services", "/api/health/services"), ("/api/health", "/api/health"),
                           ("/api/stats", "/api/stats")]:
        response = call(spo, "GET", path)
        assert response.status_code == 200, (path, response.text)
        conforms(document, template, "get", response)


def test_executions_and_errors_match_the_document(spo, document):
    succeeded = spo.execute("customer_get", {"p_id": 7})
    assert succeeded.status_code == 200
    conforms(document, "/api/services/customer_get/execute", "post", succeeded)
    for p_id in (8, 9, 10):  # more executions than one page of three
        assert spo.execute("customer_get", {"p_id": p_id}).status_code == 200
    failed = spo.execute("customer_get", {"p_id": "seven"})
    assert failed.status_code == 400
    error = conforms(document, "/api/services/customer_get/execute", "post", failed)["error"]

    listing = conforms(document, "/api/executions", "get", call(spo, "GET", "/api/executions", params={"limit": 3}))
    assert listing["items"] and listing["next_cursor"]
    for execution_id in (succeeded.json()["execution_id"], listing["items"][-1]["id"]):
        conforms(document, "/api/executions/{id}", "get", call(spo, "GET", f"/api/executions/{execution_id}"))
    conforms(document, "/api/errors/{reference}", "get", call(spo, "GET", f"/api/errors/{error['reference']}"))

    again = call(spo, "POST", f"/api/executions/{succeeded.json()['execution_id']}/reprocess",
                 json={"reason": "conformance", "force": True})
    assert again.status_code == 200, again.text
    conforms(document, "/api/executions/{id}/reprocess", "post", again)
    refused = call(spo, "POST", f"/api/executions/{succeeded.json()['execution_id']}/reprocess", json={})
    assert refused.status_code == 409, refused.text  # succeeded, and reprocessed already: force needed
    conforms(document, "/api/executions/{id}/reprocess", "post", refused)


def test_writes_and_their_errors_match_the_document(spo, document):
    name = f"conf_{uuid.uuid4().hex[:6]}"
    service = {"name": name, "connection": "demo", "procedure": "demo.customer_count", "parameters": "discover"}
    try:
        writes_conform(spo, document, name, service)
    finally:
        call(spo, "DELETE", f"/api/services/{name}")


def writes_conform(spo, document, name, service):
    created = call(spo, "POST", "/api/services", json=service)
    assert created.status_code == 201, created.text
    conforms(document, "/api/services", "post", created)
    replaced = call(spo, "PUT", f"/api/services/{name}", json={**service, "description": "replaced"})
    assert replaced.status_code == 200, replaced.text
    conforms(document, "/api/services/{name}", "put", replaced)
    conflict = call(spo, "POST", "/api/services", json=service)
    assert conflict.status_code == 409
    conforms(document, "/api/services", "post", conflict)
    assert call(spo, "DELETE", f"/api/services/{name}").status_code == 204
    missing = call(spo, "GET", f"/api/services/{name}")
    assert missing.status_code == 404
    conforms(document, "/api/services/{name}", "get", missing)

    policy = {"name": f"p_{name}", "max_attempts": 2, "initial_backoff_ms": 10}
    made = call(spo, "POST", "/api/retry-policies", json=policy)
    assert made.status_code == 201, made.text
    conforms(document, "/api/retry-policies", "post", made)
    assert call(spo, "DELETE", f"/api/retry-policies/p_{name}").status_code == 204
