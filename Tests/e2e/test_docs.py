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


def test_swagger_ui_renders_the_live_services_and_runs_one_in_a_browser(spo, browser):
    """Real Chromium: the operations come from /api/openapi.json, "Authorize" takes a key, and
    "Try it out" executes a service through the same endpoint as any client."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    from browser_support import SCREENSHOTS
    from e2e_support import AUTH

    block = "#operations-services-execute_customer_count"
    browser.get(spo.url("/docs/"))
    wait = WebDriverWait(browser, 20)

    def titles():
        return {element.get_attribute("data-path")
                for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}

    # Without a key the document lists what anyone may call: the public services and endpoints.
    wait.until(seen.presence_of_element_located(
        (By.CSS_SELECTOR, f"{block} [data-path='/api/services/customer_count/execute']")))
    assert {"/api/services/customer_count/execute", "/api/health", "/api/openapi.json"} <= titles()
    assert "/api/services/customer_get/execute" not in titles() and "/api/executions" not in titles()

    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    key_input = wait.until(seen.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input")))
    key_input.send_keys(AUTH["Authorization"].removeprefix("Bearer "))
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize").click()
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, ".btn-done"))).click()
    # Authorizing fetches the document again with the key: the admin key's view is everything.
    WebDriverWait(browser, 20).until(lambda _: "/api/executions" in titles())
    assert {"/api/services/customer_get/execute", "/api/executions", "/api/openapi.json"} <= titles()

    operation = wait.until(seen.element_to_be_clickable(
        (By.CSS_SELECTOR, f"{block} [data-path='/api/services/customer_count/execute']")))
    operation.click()
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, f"{block} .try-out__btn"))).click()
    wait.until(seen.element_to_be_clickable((By.CSS_SELECTOR, f"{block} .execute"))).click()
    status = wait.until(seen.presence_of_element_located(
        (By.CSS_SELECTOR, f"{block} .live-responses-table tbody .response-col_status")))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", status)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "test_swagger_ui_runs_a_service.png"))
    assert status.text.strip().startswith("200"), status.text
    body = browser.find_element(By.CSS_SELECTOR, f"{block} .live-responses-table .microlight").text
    assert '"status": "succeeded"' in body and '"service": "customer_count"' in body

    violations = [entry for entry in browser.get_log("browser")
                  if "Content Security Policy" in entry.get("message", "") or entry.get("source") == "security"]
    assert not violations, violations
