"""CORS for browser gateway clients, through nginx and the pool: the suite's instance allows one
origin (SPO_CORS_ORIGINS, see conftest.py). Preflights on the execution paths are answered with
the methods, headers and max-age; answers carry the origin back; other origins get no CORS header."""
from __future__ import annotations

import requests

from e2e_support import CORS_ORIGIN

OTHER = "https://evil.example.test"


def _preflight(spo, path, origin, method="POST"):
    return requests.options(spo.url(path), timeout=30, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})


def test_a_preflight_from_the_allowed_origin_is_answered(spo):
    for path in ("/api/services/customer_get/execute", "/api/execute", "/api/executions/status"):
        response = _preflight(spo, path, CORS_ORIGIN)
        assert response.status_code == 204, (path, response.text)
        headers = response.headers
        assert headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
        assert headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        assert headers["Access-Control-Allow-Headers"] == (
            "Authorization, Content-Type, Idempotency-Key, Prefer, X-Correlation-ID")
        assert headers["Access-Control-Max-Age"] == "7200"
        assert headers["Vary"] == "Origin"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_other_origins_get_no_cors_headers(spo):
    preflight = _preflight(spo, "/api/services/customer_get/execute", OTHER)
    assert preflight.status_code == 204
    assert not any(name.lower().startswith("access-control-") for name in preflight.headers)
    call = requests.post(spo.url("/api/services/customer_get/execute"), json={"p_id": 1},
                         headers={"Origin": OTHER}, timeout=30)
    assert call.status_code == 200
    assert "Access-Control-Allow-Origin" not in call.headers and call.headers["Vary"] == "Origin"


def test_answers_to_the_allowed_origin_carry_it_errors_too(spo):
    ok = requests.post(spo.url("/api/services/customer_get/execute"), json={"p_id": 1},
                       headers={"Origin": CORS_ORIGIN}, timeout=30)
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "X-Execution-ID" in ok.headers["Access-Control-Expose-Headers"]
    refused = requests.post(spo.url("/api/services/customer_get/execute"), json={"p_id": 1},
                            headers={"Origin": CORS_ORIGIN, "Authorization": ""}, timeout=30)
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN


def test_administration_is_never_cross_origin(spo):
    answer = requests.get(spo.url("/api/services"), headers={"Origin": CORS_ORIGIN}, timeout=30)
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers
    preflight = _preflight(spo, "/api/services", CORS_ORIGIN, method="GET")
    assert preflight.status_code == 405 and "Access-Control-Allow-Origin" not in preflight.headers
    assert "OPTIONS" not in preflight.headers["Allow"]
