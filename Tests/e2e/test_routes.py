"""The route table, live: every operation the OpenAPI document declares is answered by the server
(never 404 "no such endpoint" or 405), every other method on a documented path is 405 with an
`Allow` header listing exactly the documented ones, and paths outside the document are 404. Nothing
here changes configuration: bodies are invalid and names do not exist, so every write is refused."""

from __future__ import annotations

import re

import pytest
import requests

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
MISSING = "no_such_thing_e2e"


@pytest.fixture(scope="module")
def operations(spo):
    document = requests.get(spo.url("/api/openapi.json"), timeout=10).json()
    return {path: {m.upper() for m in item} for path, item in document["paths"].items()}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", MISSING, path)


def call(spo, method: str, path: str) -> requests.Response:
    # A body no endpoint accepts: an unknown member (for executions too: the service does not run).
    body = {"__not_a_member__": True} if method in ("POST", "PUT") else None
    return requests.request(method, spo.url(concrete(path)), json=body, timeout=15)


def test_every_documented_operation_is_answered(spo, operations):
    assert "/api/services/customer_get/execute" in operations
    for path, methods in operations.items():
        for method in methods:
            response = call(spo, method, path)
            assert response.status_code != 405, f"{method} {path} is documented but answered 405"
            if response.status_code == 404:
                error = response.json()["error"]
                assert not error["message"].startswith("no such endpoint"), f"{method} {path}: {error}"


# The paths browsers may call across origins also take OPTIONS (the CORS preflight).
CROSS_ORIGIN = re.compile(r"^/api/(services/[^/]+/execute|execute|executions/\{id\}|executions/status|sagas/\{id\})$")


def test_other_methods_on_documented_paths_are_405_with_allow(spo, operations):
    for path, methods in operations.items():
        expected = set(methods) | ({"HEAD"} if "GET" in methods else set())
        if CROSS_ORIGIN.match(path):
            expected.add("OPTIONS")
            preflight = requests.options(spo.url(concrete(path)), timeout=15)
            assert preflight.status_code == 204, f"OPTIONS {path} answered {preflight.status_code}"
            assert {m.strip() for m in preflight.headers["Allow"].split(",")} == expected
        for method in METHODS:
            if method in methods:
                continue
            response = call(spo, method, path)
            assert response.status_code == 405, f"{method} {path} answered {response.status_code}"
            assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed == expected, f"{path}: Allow {allowed}, documented {expected}"


@pytest.mark.parametrize("path", [
    "/api/", "/api/healthz", "/api/services/customer_get/run", "/api/executions/x/y",
    "/api/health/services/x", "/api/API", "/api/errors",
])
def test_undocumented_paths_are_404(spo, operations, path):
    assert path not in operations
    for method in METHODS:
        response = requests.request(method, spo.url(path), timeout=15)
        assert response.status_code == 404, f"{method} {path} answered {response.status_code}"
        assert response.json()["error"]["code"] == "NOT_FOUND"
