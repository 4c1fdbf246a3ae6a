"""Through nginx: the SPEC envelope and error shape, headers, compression, limits."""

from __future__ import annotations

import gzip
import json
import uuid
from decimal import Decimal

import pytest
import requests

from e2e_support import REPO, SECURITY_HEADERS, UUID_RE, correlation_id

# One valid call per example service, with a check of its `data`.
SERVICES = {
    "customer_get": ({"p_id": 42}, lambda d: isinstance(d, list) and len(d) == 1 and d[0]["id"] == 42),
    "customer_search": ({"p_limit": 3}, lambda d: isinstance(d, list) and [r["id"] for r in d] == [1, 2, 3]),
    "customer_count": ({}, lambda d: d == 1000),
    "echo_types": ({"p_integer": 7, "p_text": "ünï", "p_bigint": 9007199254740993},
                   lambda d: d["integer"] == 7 and d["text"] == "ünï" and d["bigint"] == 9007199254740993),
    "big_numbers": ({}, lambda d: d[0]["big"] == 9223372036854775807 and d[0]["small"] == -9223372036854775808
                    and d[0]["exact"] == Decimal("12345678901234567890.123456789")),
    "note_add": ({"p_customer_id": 1, "p_note": "written by the e2e suite"}, lambda d: d is None),
    "transfer": ({"p_from": 3, "p_to": 4, "p_amount": 0.01, "p_reference": "e2e-ref"},
                 lambda d: d["p_reference"] == "e2e-ref" and "p_from_balance" in d and "p_to_balance" in d),
    "slow": ({"p_seconds": 0}, lambda d: d == "done"),
    "flaky": (None, lambda d: d == "ok after 2 attempts"),
}


def parse(response: requests.Response):
    """JSON with every number exact (Decimal for fractions, int for integers)."""
    return json.loads(response.content, parse_float=Decimal)


def assert_error_shape(response: requests.Response, status: int, code: str, reference_required: bool = True):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "reference", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], list), error
    if reference_required:
        assert isinstance(error["reference"], str) and UUID_RE.match(error["reference"]), error
    return error


def assert_security_headers(response: requests.Response):
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))
    assert response.headers.get("Server") == "nginx"  # server_tokens off: no version


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_example_service_answers_with_the_envelope(spo, service):
    parameters, check = SERVICES[service]
    if service == "flaky":
        parameters = {"p_key": str(uuid.uuid4()), "p_failures": 1}
    response = spo.execute(service, parameters)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = parse(response)
    assert set(body) == {"execution_id", "service", "status", "attempts", "duration_ms", "data"}, body
    assert UUID_RE.match(body["execution_id"])
    assert body["service"] == service
    assert body["status"] == "succeeded"
    assert isinstance(body["attempts"], int) and body["attempts"] >= 1
    assert isinstance(body["duration_ms"], (int, Decimal)) and body["duration_ms"] >= 0
    assert check(body["data"]), body["data"]
    assert response.headers["X-Execution-ID"] == body["execution_id"]
    if service == "flaky":
        assert body["attempts"] == 2


def test_every_example_service_is_covered():
    names = {s["name"] for s in json.loads((REPO / "examples" / "services.json").read_text())["services"]}
    assert names - {"business_failure"} <= set(SERVICES), names - set(SERVICES)


def test_envelope_form_of_execute(spo):
    response = requests.post(spo.url("/api/execute"), json={"service": "customer_get", "parameters": {"p_id": 7}},
                             timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == "customer_get" and body["data"][0]["id"] == 7


def test_errors_have_the_spec_shape(spo):
    # 404: unknown service
    error = assert_error_shape(spo.execute("no_such_service", {}), 404, "SERVICE_NOT_FOUND")
    # 400: each bad parameter named with its reason
    response = spo.execute("customer_get", {"p_id": 0, "p_bogus": 1})
    error = assert_error_shape(response, 400, "INVALID_PARAMETERS")
    assert {d["parameter"] for d in error["details"]} == {"p_id", "p_bogus"}, error
    assert all(d["problem"] for d in error["details"])
    # 400: not JSON
    response = requests.post(spo.url("/api/services/customer_get/execute"), data=b"{not json",
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert_error_shape(response, 400, "INVALID_PARAMETERS")
    # 415: not JSON by content type
    response = requests.post(spo.url("/api/services/customer_get/execute"), data=b"p_id=1",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert_error_shape(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    # 422: the procedure raised a business error (P0001); details carry the SQLSTATE
    response = spo.execute("business_failure", {"p_code": "E042"})
    error = assert_error_shape(response, 422, "SP_EXECUTION_FAILED")
    assert "P0001" in json.dumps(error["details"]), error
    assert "E042" in error["message"] + json.dumps(error["details"]), error
    # 504: past the service timeout (slow: 1000 ms)
    response = spo.execute("slow", {"p_seconds": 3})
    error = assert_error_shape(response, 504, "TIMEOUT")
    # The reference names a service_error row with the same code.
    assert spo.psql(f"SELECT code FROM spo.service_error WHERE reference = '{error['reference']}'").strip() == "TIMEOUT"
    # 404 for an unknown path under /api/
    response = requests.get(spo.url("/api/no/such/endpoint"), timeout=30)
    assert_error_shape(response, 404, "NOT_FOUND")


def test_get_on_an_execute_path_is_405(spo):
    response = requests.get(spo.url("/api/services/customer_get/execute"), timeout=30)
    assert_error_shape(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers.get("Allow") == "POST, OPTIONS"  # OPTIONS: the CORS preflight
    assert_security_headers(response)


def test_correlation_id_is_echoed_and_audited(spo):
    given = correlation_id()
    response = spo.execute("customer_get", {"p_id": 5}, headers={"X-Correlation-ID": given})
    assert response.status_code == 200, response.text
    assert response.headers["X-Correlation-ID"] == given
    execution_id = response.headers["X-Execution-ID"]
    assert response.json()["execution_id"] == execution_id
    row = spo.psql(
        "SELECT service_name, status, http_status, correlation_id FROM spo.service_execution "
        f"WHERE id = '{execution_id}'").strip()
    assert row == f"customer_get|succeeded|200|{given}", row

    # Errors echo it too, and a failed execution has its row as well.
    given = correlation_id()
    response = spo.execute("business_failure", {}, headers={"X-Correlation-ID": given})
    assert response.status_code == 422
    assert response.headers["X-Correlation-ID"] == given
    execution_id = response.headers["X-Execution-ID"]
    row = spo.psql(
        f"SELECT service_name, status, correlation_id FROM spo.service_execution WHERE id = '{execution_id}'").strip()
    assert row == f"business_failure|failed|{given}", row
    reference = response.json()["error"]["reference"]
    assert spo.psql(
        f"SELECT execution_id FROM spo.service_error WHERE reference = '{reference}'").strip() == execution_id

    # Without one (or with an unusable one) the worker makes one up and says which.
    response = spo.execute("customer_get", {"p_id": 5})
    assert UUID_RE.match(response.headers["X-Correlation-ID"])
    response = spo.execute("customer_get", {"p_id": 5}, headers={"X-Correlation-ID": "bad value; with spaces"})
    assert UUID_RE.match(response.headers["X-Correlation-ID"])


def test_security_headers_on_every_kind_of_response(spo):
    assert_security_headers(spo.execute("customer_get", {"p_id": 1}))                 # 200 from a worker
    assert_security_headers(spo.execute("no_such_service", {}))                       # 404 from a worker
    assert_security_headers(requests.get(spo.url("/api/health"), timeout=30))
    assert_security_headers(requests.get(spo.url("/nothing-here"), timeout=30))        # nginx's own 404
    assert_security_headers(requests.post(spo.url("/api/services/customer_get/execute"),  # nginx's own 413
                                          data=b" " * (1024 * 1024 + 1), timeout=30))


def test_gzip_for_a_large_json_response(spo):
    url = spo.url("/api/services/customer_search/execute")
    raw = requests.post(url, json={"p_limit": 100}, headers={"Accept-Encoding": "gzip"}, timeout=30, stream=True)
    assert raw.status_code == 200
    assert raw.headers.get("Content-Encoding") == "gzip", dict(raw.headers)
    assert "Accept-Encoding" in raw.headers.get("Vary", "")
    compressed = raw.raw.read(decode_content=False)
    body = json.loads(gzip.decompress(compressed))
    assert len(body["data"]) == 100
    assert len(compressed) * 3 < len(json.dumps(body)), "gzip should shrink 100 rows of JSON several times"

    plain = requests.post(url, json={"p_limit": 100}, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert len(plain.json()["data"]) == 100


def test_body_over_one_mib_is_413_json(spo):
    body = b'{"p_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = requests.post(spo.url("/api/services/customer_get/execute"), data=body,
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE", reference_required=False)
    assert_security_headers(response)
    # Just under the limit reaches the worker (which then names the unknown parameter).
    body = b'{"p_id": 1, "pad": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    response = requests.post(spo.url("/api/services/customer_get/execute"), data=body,
                             headers={"Content-Type": "application/json"}, timeout=30)
    error = assert_error_shape(response, 400, "INVALID_PARAMETERS")
    assert [d["parameter"] for d in error["details"]] == ["pad"]
