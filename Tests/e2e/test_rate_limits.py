"""nginx's rate limits (nginx/spo.conf, RATE LIMITS): a burst from one address, and from several
addresses with one API key, is answered 429 RATE_LIMITED in the API's error shape by nginx itself,
while loopback (127.0.0.1, exempt: probes, benchmarks) is not limited. Other loopback addresses
(127.0.0.2, …) are real client addresses to nginx."""
from __future__ import annotations

import concurrent.futures
import http.client
import json

from e2e_support import AUTH

SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def _get(spo, source: str, path: str = "/api/health", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", spo.http_port, timeout=30, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _burst(spo, sources: list[str], count: int, headers=None):
    with concurrent.futures.ThreadPoolExecutor(8) as threads:
        return list(threads.map(lambda n: _get(spo, sources[n % len(sources)], headers=headers), range(count)))


def _assert_rate_limited(status, headers, body):
    assert status == 429
    assert headers["Content-Type"] == "application/json" and headers["Retry-After"] == "1"
    error = json.loads(body)["error"]
    assert error == {"code": "RATE_LIMITED", "message": error["message"], "reference": None, "details": []}
    assert "too many requests" in error["message"]
    for name, value in SECURITY.items():
        assert headers[name] == value
    assert headers["X-Correlation-ID"]


def test_a_burst_from_one_address_gets_429s_in_the_error_shape(spo):
    answers = _burst(spo, ["127.0.0.2"], 400)
    statuses = [status for status, _, _ in answers]
    # 50 requests/s with bursts of 100: of 400 at once, at least the first 100 pass, many do not.
    assert statuses.count(200) >= 100 and statuses.count(429) >= 100, statuses.count(429)
    assert set(statuses) == {200, 429}
    for status, headers, body in answers:
        if status == 429:
            _assert_rate_limited(status, headers, body)
    # Loopback is exempt: the same burst from 127.0.0.1 is all answered.
    assert {status for status, _, _ in _burst(spo, ["127.0.0.1"], 400)} == {200}


def test_one_key_from_several_addresses_meets_the_per_key_limit(spo):
    """Four addresses, 100 each (within each address's burst), one key: 400 > the key's 200 burst."""
    answers = _burst(spo, ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"], 400, headers=AUTH)
    statuses = [status for status, _, _ in answers]
    assert statuses.count(429) >= 100 and statuses.count(200) >= 200, (statuses.count(200), statuses.count(429))
    for status, headers, body in answers:
        if status == 429:
            _assert_rate_limited(status, headers, body)
