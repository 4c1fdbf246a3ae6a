"""Swagger UI at /docs/: the packaged distribution (PyPI swagger-ui-bundle, installed by `make
swagger-ui`), served by nginx as shipped, started by our initializer against the live document."""

from __future__ import annotations

import requests

from e2e_support import REPO, SECURITY_HEADERS


def test_docs_serves_the_packaged_swagger_ui(spo):
    page = requests.get(spo.url("/docs/"), timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'id="swagger-ui"' in page.text and "swagger-ui-bundle.js" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    # The bundle is the distribution's own file, byte for byte.
    bundle = requests.get(spo.url("/docs/swagger-ui-bundle.js"), timeout=10)
    assert bundle.status_code == 200 and bundle.headers["Content-Type"].startswith("application/javascript")
    assert bundle.content == (REPO / ".build" / "swagger-ui" / "swagger-ui-bundle.js").read_bytes()


def test_docs_start_on_the_live_document_not_the_petstore(spo):
    script = requests.get(spo.url("/docs/swagger-initializer.js"), timeout=10)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert '"/api/openapi.json"' in script.text and "petstore" not in script.text
    assert script.content == (REPO / "www" / "swagger-initializer.js").read_bytes()


def test_docs_without_slash_redirects(spo):
    response = requests.get(spo.url("/docs"), allow_redirects=False, timeout=10)
    assert response.status_code == 301 and response.headers["Location"].endswith("/docs/")
