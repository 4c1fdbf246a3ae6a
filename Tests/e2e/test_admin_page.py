"""The admin page (www/) in headless Chromium against the real stack (nginx with the page's CSP,
the pool, PostgreSQL): sign-in, services (create with discovery, Try it), executions (filters,
paging, reprocessing), error look-up, escaping of every API value, phone width, and no CSP
violation anywhere.

Each test leaves a screenshot in .build/screenshots/<test name>.png.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import pytest
import requests

import e2e_support
from browser_support import DESKTOP, PHONE, AdminPage, pretty
from e2e_support import create_live_service, fastcgi, wait_for


def admin_key() -> str:
    return e2e_support.AUTH["Authorization"].removeprefix("Bearer ")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def create_service(spo, name: str, procedure: str = "demo.customer_count", **fields) -> dict:
    """Through the API; waits until every worker's configuration has it (live within a second)."""
    document = {"name": name, "connection": "demo", "procedure": procedure, "parameters": "discover", **fields}
    return create_live_service(spo, document, timeout=5)


@pytest.fixture
def services(spo):
    """Names of services a test creates: deleted when it ends (the rest of the suite shares the
    instance), whether the test got to delete them itself or not."""
    names: list[str] = []
    yield names
    for name in names:
        requests.delete(spo.url(f"/api/services/{name}"), timeout=30)


def execution(spo, execution_id: str) -> dict:
    response = requests.get(spo.url(f"/api/executions/{execution_id}"), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def row_ids(page: AdminPage) -> list[str]:
    return [row.get_attribute("data-id") for row in page.find_all("#exec-table tbody tr[data-testid='exec-row']")]


@pytest.fixture(scope="module")
def admin(spo, browser) -> AdminPage:
    return AdminPage(browser, spo.base_url)


@pytest.fixture
def page(admin, pool, request):
    """The page at desktop width, the pool complete (earlier tests of the suite kill and resize
    it); a screenshot named after the test when it ends (unless the test took its own), pass or fail."""
    admin.resize(DESKTOP)
    admin.screenshot_taken = False
    yield admin
    if not admin.screenshot_taken:
        admin.screenshot(request.node.name)


@pytest.fixture
def signed_in(page):
    page.ensure_signed_in(admin_key())
    return page


# ------------------------------------------------------------------------------------------------


def test_sign_in_refuses_wrong_and_non_admin_keys_and_sign_out_forgets_the_key(page, spo):
    page.load("/services")
    page.js("window.sessionStorage.clear()")
    page.load("/services")
    page.visible("#signin-form")
    assert not page.find("#nav").is_displayed()

    # A key that does not exist: 401, explained, still signed out, nothing stored.
    page.fill("#signin-key", "spo_00000000_" + "0" * 32)
    page.click("#signin-submit")
    text = page.wait_alert("UNAUTHORIZED")
    assert "not valid" in text and "HTTP 401" in text, text
    assert page.session_key() is None
    assert page.find("#signin").is_displayed() and not page.find("#nav").is_displayed()
    assert not page.find_all("#services-table")

    # A valid executor key: 403, "not an admin key".
    name = unique("ui-executor")
    created = spo.spo("keys", "create", "--name", name, "--role", "executor", "--grant", "*").stdout
    executor_key = re.search(r"spo_[0-9a-f]+_[0-9a-f]+", created).group(0)
    # Keys travel with the configuration snapshot, live on every worker within a second.
    wait_for(lambda: all(fastcgi(spo.direct_path(slot), "GET", "/api/services",
                                 headers={"Authorization": f"Bearer {executor_key}"}).status == 403
                         for slot in spo.workers()), 5, interval=0.05, message="the new key known to every worker")
    try:
        page.fill("#signin-key", executor_key)
        page.click("#signin-submit")
        text = page.wait_alert("FORBIDDEN")
        assert "not an admin key" in text and "HTTP 403" in text, text
        assert page.session_key() is None
    finally:
        spo.spo("keys", "revoke", name)

    # The admin key: signed in, the key kept in this tab's sessionStorage, the prefix shown.
    page.sign_in(admin_key())
    assert page.session_key() == admin_key()
    assert page.text("#session-key") == admin_key()[: len("spo_") + 8]
    assert page.alert_text() == ""
    page.load("/connections")  # a new document: the key survives a reload of the tab
    page.wait_text("#connections-table", "demo")

    # A key the API stops accepting mid-session: back to sign-in, with the reason.
    page.js("window.sessionStorage.setItem('spo.apiKey', arguments[0])", "spo_00000000_" + "1" * 32)
    page.go("/executions")
    text = page.wait_alert("signed out")
    assert "UNAUTHORIZED" in text, text
    assert page.find("#signin").is_displayed() and page.session_key() is None
    assert not page.find_all("#exec-table")

    # Sign out: the key is gone from sessionStorage and the data from the page.
    page.sign_in(admin_key())
    page.click("#signout")
    page.visible("#signin-form")
    page.wait_text("#notice", "Signed out")
    assert page.session_key() is None
    assert page.js("return window.sessionStorage.length") == 0
    assert not page.find_all("#services-table")


def test_create_a_service_with_discovered_parameters_then_disable_edit_and_delete_it(signed_in, spo, services):
    page = signed_in
    name = unique("ui_created")
    services.append(name)
    page.go("/services")
    page.click("#services-new")
    page.visible("#service-form")
    assert page.find("#svc-params-discover").is_selected()
    assert not page.find("#svc-params").is_displayed()  # discovery: no JSON to edit

    page.fill("#svc-name", name)
    page.fill("#svc-description", "Created by the browser test")
    page.select("#svc-connection", "demo")
    page.fill("#svc-procedure", "demo.no_such_function")
    page.fill("#svc-timeout", "4000")
    page.select("#svc-retry", "none")

    # The catalog check fails: every detail of the API's answer is shown, nothing is created.
    page.click("#svc-submit")
    text = page.wait_alert("INVALID_PARAMETERS")
    assert "demo.no_such_function does not exist" in text and "Reference:" in text, text
    assert requests.get(spo.url(f"/api/services/{name}"), timeout=30).status_code == 404

    page.fill("#svc-procedure", "demo.customer_count")
    page.click("#svc-submit")
    page.wait_text("#svc-title", name)
    page.wait_text("#notice", "created with 1 parameter")
    assert page.driver.current_url.endswith(f"#/services/{name}")

    # The parameters discovered from the catalog, in the detail view.
    row = page.visible("#params-table tr[data-param='p_min_balance']")
    cells = [cell.text for cell in row.find_elements("css selector", "td")]
    assert cells[:4] == ["p_min_balance", "numeric", "IN", "no"], cells
    assert page.text("#svc-description-text") == "Created by the browser test"

    stored = requests.get(spo.url(f"/api/services/{name}"), timeout=30).json()
    assert [(p["name"], p["type"], p["required"]) for p in stored["parameters"]] == [("p_min_balance", "numeric", False)]
    assert (stored["timeout_ms"], stored["retry_policy"], stored["enabled"]) == (4000, "none", True)

    # Disable from the list: the whole document is written back with only `enabled` changed.
    page.go(f"/services?search={name}")
    page.click(f"[data-testid='toggle-{name}']")
    page.wait_text("#notice", f"Service {name} disabled")
    page.wait_text(f"#services-table tr[data-service='{name}']", "disabled")
    after = requests.get(spo.url(f"/api/services/{name}"), timeout=30).json()
    assert after["enabled"] is False and after["version"] == stored["version"] + 1
    assert {k: v for k, v in after.items() if k not in ("enabled", "version")} == {
        k: v for k, v in stored.items() if k not in ("enabled", "version")}

    # Edit: the form sends the version it was opened at, so a change made meanwhile is not
    # overwritten (409); opened again, it saves.
    page.go(f"/services/{name}/edit")
    page.visible("#service-form")
    assert page.find("#svc-params-json").is_selected()
    assert json.loads(page.find("#svc-params").get_attribute("value")) == after["parameters"]
    meanwhile = {k: v for k, v in after.items() if k not in ("id", "result_shape", "version")}
    meanwhile["description"] = "changed meanwhile"
    assert requests.put(spo.url(f"/api/services/{name}"), json=meanwhile, timeout=30).status_code == 200
    page.fill("#svc-description", "edited in the form")
    page.click("#svc-submit")
    text = page.wait_alert("CONFLICT")
    assert "someone changed" in text and "HTTP 409" in text, text
    assert requests.get(spo.url(f"/api/services/{name}"), timeout=30).json()["description"] == "changed meanwhile"
    page.load(f"/services/{name}/edit")
    page.fill("#svc-description", "edited in the form")
    page.click("#svc-submit")
    page.wait_text("#notice", f"Service {name} saved")
    assert page.text("#svc-description-text") == "edited in the form"

    # Delete, behind a confirmation that can be cancelled.
    page.go(f"/services/{name}")
    page.click("#svc-delete")
    page.click("#svc-delete-cancel")
    assert not page.find("#svc-delete-panel").is_displayed()
    page.click("#svc-delete")
    page.click("#svc-delete-confirm")
    page.wait_text("#notice", f"Service {name} deleted")
    page.visible("#services-table")
    assert requests.get(spo.url(f"/api/services/{name}"), timeout=30).status_code == 404


def test_try_it_executes_with_typed_values_and_links_the_execution(signed_in, spo, services):
    page = signed_in
    name = unique("ui_try")
    services.append(name)
    create_service(spo, name, description="Try it from the browser")
    page.go(f"/services/{name}")
    page.visible("#try-form")

    # A value the service refuses: the API's error, in the alert and as the response.
    page.fill("#try-p_min_balance", "lots")
    page.click("#try-submit")
    text = page.wait_alert("INVALID_PARAMETERS")
    assert "p_min_balance: must be a decimal number" in text, text
    assert json.loads(page.text("#try-result"))["error"]["code"] == "INVALID_PARAMETERS"

    # A number: sent as a JSON number, answered with the count.
    page.fill("#try-p_min_balance", "500")
    page.click("#try-submit")
    result = json.loads(page.wait_text("#try-result", '"succeeded"').text)
    assert page.alert_text() == ""
    sent = json.loads(page.find("#try-request").get_attribute("textContent"))
    assert sent == {"p_min_balance": 500}
    expected = spo.execute(name, {"p_min_balance": 500}).json()["data"]
    assert (result["service"], result["status"], result["data"]) == (name, "succeeded", expected)

    page.click("#try-execution-link")
    page.wait_text("#exec-status", "succeeded")
    assert page.driver.current_url.endswith(f"#/executions/{result['execution_id']}")
    assert json.loads(page.text("#exec-parameters")) == {"p_min_balance": 500}
    assert page.text("#exec-user") == execution(spo, result["execution_id"])["user"]

    # Every type as the service expects it, digits kept: bigint, numeric, boolean, array, json.
    page.go("/services/echo_types")
    page.fill("#try-p_bigint", "9223372036854775807")
    page.fill("#try-p_numeric", "12345678901234567890.123456789")
    page.select("#try-p_boolean", "true")
    page.fill("#try-p_int_array", "[1, 2, 3]")
    page.fill("#try-p_jsonb", '{"k": [1, "two"]}')
    page.fill("#try-p_text", "  spaces kept  ")
    page.click("#try-submit")
    shown = page.wait_text("#try-result", '"succeeded"').text
    data = json.loads(shown, parse_float=Decimal)["data"]
    assert "9223372036854775807" in shown and "12345678901234567890.123456789" in shown, shown
    assert data["bigint"] == 9223372036854775807 and data["numeric"] == Decimal("12345678901234567890.123456789")
    assert (data["boolean"], data["int_array"], data["jsonb"], data["text"]) == (
        True, [1, 2, 3], {"k": [1, "two"]}, "  spaces kept  ")


def test_executions_filter_by_service_and_page_with_the_cursor(signed_in, spo, services):
    page = signed_in
    name = unique("ui_paging")
    services.append(name)
    create_service(spo, name)
    for n in range(12):
        assert spo.execute(name, {"p_min_balance": n}).status_code == 200
    rejected = spo.execute(name, {"p_min_balance": "not a number"})
    assert rejected.status_code == 400
    rejected_id = rejected.headers["X-Execution-ID"]
    everything = requests.get(spo.url("/api/executions"), params={"service": name, "limit": 500}, timeout=30).json()
    expected = [item["id"] for item in everything["items"]]
    assert len(expected) == 13 and expected[0] == rejected_id  # newest first

    page.go("/executions")
    page.fill("#exec-service", name)
    page.select("#exec-limit", "10")
    page.click("#exec-apply")
    page.wait_for(lambda: row_ids(page) == expected[:10], "the first page of 10, newest first")
    assert {row.text for row in page.find_all("#exec-table td[data-label='Service']")} == {name}
    assert f"service={name}" in page.driver.current_url
    assert page.text("#exec-page") == "Page 1"
    assert not page.find("#exec-newest").is_enabled() and page.find("#exec-older").is_enabled()

    page.click("#exec-older")
    page.wait_for(lambda: row_ids(page) == expected[10:], "the second page: the 3 oldest")
    assert page.text("#exec-page") == "Page 2"
    assert not page.find("#exec-older").is_enabled()  # no next_cursor: the last page
    assert not page.find("#exec-autorefresh").is_enabled()  # auto-refresh: newest page only

    page.click("#exec-newest")
    page.wait_for(lambda: row_ids(page) == expected[:10], "back to the newest page")
    assert page.text("#exec-page") == "Page 1"

    # Auto-refresh (newest page only): a new execution shows up without touching the page.
    page.click("#exec-autorefresh")
    try:
        newest = spo.execute(name, {"p_min_balance": 99}).headers["X-Execution-ID"]
        page.wait_for(lambda: row_ids(page)[:2] == [newest, expected[0]], "the auto-refresh to show the new execution")
    finally:
        page.click("#exec-autorefresh")  # off again: the setting lasts for the tab

    page.select("#exec-status", "rejected")
    page.click("#exec-apply")
    page.wait_for(lambda: row_ids(page) == [rejected_id], "only the rejected execution")

    # since/until: datetime-local inputs (local time) sent as ISO 8601; none after 2099.
    page.js("const i = document.getElementById('exec-since'); i.value = '2099-01-01T00:00';"
            "i.dispatchEvent(new Event('input', {bubbles: true}))")
    page.click("#exec-apply")
    page.wait_text("#exec-table", "No execution matches these filters.")
    assert re.search(r"since=2099-01-0[12]T\d\d%3A\d\d%3A00\.000Z", page.driver.current_url), page.driver.current_url
    assert page.alert_text() == ""
    page.js("const i = document.getElementById('exec-since'); i.value = '';"
            "i.dispatchEvent(new Event('input', {bubbles: true}))")
    page.click("#exec-apply")
    page.wait_for(lambda: row_ids(page) == [rejected_id], "the rejected execution again")
    page.click(f"#exec-table tr[data-id='{rejected_id}'] a[data-testid='exec-link']")
    page.wait_text("#exec-status", "rejected")
    assert "INVALID_PARAMETERS" in page.text("#exec-errors")


def test_reprocess_a_failed_execution_with_a_reason_and_follow_the_link(signed_in, spo):
    page = signed_in
    failed = spo.execute("note_add", {"p_customer_id": 999999, "p_note": "customer does not exist"})
    assert failed.status_code == 409, failed.text  # the foreign key (class 23): a business error, not retried
    old = failed.headers["X-Execution-ID"]

    page.go(f"/executions/{old}")
    page.wait_text("#exec-status", "failed")
    assert "SP_EXECUTION_FAILED" in page.text("#exec-errors") and "23503" in page.text("#exec-errors")

    override = '{"p_customer_id": 1, "p_note": "customer id corrected"}'
    page.fill("#reprocess-params", override)
    page.click("#reprocess-submit")  # no reason: the page refuses to send
    text = page.wait_alert("NOT_SENT")
    assert "reason" in text, text
    assert execution(spo, old)["reprocessed_as"] == []

    page.fill("#reprocess-reason", "the customer id was mistyped")
    page.click("#reprocess-submit")
    page.wait_text("#reprocess-status", "succeeded")
    link = page.visible("#reprocess-link")
    new = link.get_attribute("href").rsplit("/", 1)[1]
    assert new != old
    page.wait_text("#exec-reprocessed-as", new)  # the old one's history now names the new one

    link.click()
    page.wait_text("#exec-status", "succeeded")
    assert page.driver.current_url.endswith(f"#/executions/{new}")
    history = page.text("#exec-reprocessing-of")
    assert old in history and "the customer id was mistyped" in history, history
    assert json.loads(page.text("#exec-parameters")) == json.loads(override)

    detail = execution(spo, new)
    assert detail["reprocess_of"] == old and detail["reprocessing_of"]["reason"] == "the customer id was mistyped"

    page.click("#exec-reprocessing-of-link")
    page.wait_text("#exec-status", "failed")
    assert page.driver.current_url.endswith(f"#/executions/{old}")


def test_reprocessing_a_succeeded_execution_needs_force(signed_in, spo):
    page = signed_in
    done = spo.execute("customer_count", {})
    assert done.status_code == 200, done.text
    old = done.headers["X-Execution-ID"]
    page.go(f"/executions/{old}")
    page.wait_text("#exec-status", "succeeded")
    assert "needed here" in page.text("label[for='reprocess-force']")
    page.fill("#reprocess-reason", "recount after the import")
    page.click("#reprocess-submit")
    text = page.wait_alert("CONFLICT")
    assert '"force": true' in text, text
    page.wait_text("#reprocess-output", "Nothing ran")
    assert execution(spo, old)["reprocessed_as"] == []

    page.click("#reprocess-force")
    page.click("#reprocess-submit")
    page.wait_text("#reprocess-status", "succeeded")
    new = page.visible("#reprocess-link").get_attribute("href").rsplit("/", 1)[1]
    page.wait_text("#exec-reprocessed-as", new)
    assert [r["forced"] for r in execution(spo, old)["reprocessed_as"]] == [True]


def test_values_from_the_api_render_as_text_never_as_html(signed_in, spo, services):
    page = signed_in
    name = unique("ui_xss")
    services.append(name)
    payload = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2;alert(2)</script>'
    parameter_payload = '<b id="xss-b">bold</b><img src=x onerror="alert(3)">'
    create_service(spo, name, description=payload, parameters=[
        {"name": "p_min_balance", "type": "numeric", "required": False, "description": parameter_payload}])

    page.go(f"/services?search={name}")
    row = page.wait_text(f"#services-table tr[data-service='{name}']", payload)
    assert payload in row.text
    page.go(f"/services/{name}")
    assert page.wait_text("#svc-description-text", payload).text == payload
    page.wait_text("#params-table", parameter_payload)
    assert page.find(f"#try-p_min_balance-hint").text == parameter_payload

    assert not page.native_alert_present()
    assert page.js("return window.__xss") is None
    assert page.find_all("img") == [] and page.find_all("#view script") == [] and page.find_all("#xss-b") == []


def test_the_services_list_is_usable_at_phone_width(signed_in, spo):
    page = signed_in
    try:
        page.resize(PHONE)
        page.go("/services")
        page.visible("#services-table tr[data-service='customer_get']")
        width = page.viewport()
        assert width["inner"] <= PHONE[0] and width["scroll"] <= width["inner"], width

        # Every nav link and the sign-out button on screen, none cut off.
        for css in ("#nav-services", "#nav-executions", "#nav-connections", "#nav-errors", "#signout",
                    "#services-search", "#services-new",
                    "#services-table tr[data-service='customer_get'] [data-testid='toggle-customer_get']"):
            element = page.visible(css)
            box = page.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right]", element)
            assert 0 <= box[0] and box[1] <= width["inner"], (css, box, width)

        def listed():
            return {r.get_attribute("data-service") for r in page.find_all("#services-table tr[data-testid='service-row']")}

        assert "big_numbers" in listed()
        page.fill("#services-search", "customer_")
        page.wait_for(lambda: "big_numbers" not in listed() and {"customer_count", "customer_get", "customer_search"} <= listed(),
                      "the search to narrow the list")
        page.screenshot("test_the_services_list_is_usable_at_phone_width")
        page.screenshot_taken = True

        page.click("#nav-executions")
        page.visible("#exec-table tr[data-testid='exec-row']")
        width = page.viewport()
        assert width["scroll"] <= width["inner"], width
        page.screenshot("test_the_services_list_is_usable_at_phone_width-executions")
    finally:
        page.resize(DESKTOP)


def test_error_look_up_by_reference(signed_in, spo):
    page = signed_in
    failed = spo.execute("business_failure", {"p_code": "E303"})
    assert failed.status_code == 422
    reference = failed.json()["error"]["reference"]

    page.go("/errors")
    page.fill("#error-reference", reference)
    page.click("#error-submit")
    page.wait_text("#error-code", "SP_EXECUTION_FAILED")
    assert page.text("#error-sqlstate") == "P0001"
    assert "E303" in page.text("#error-message")
    assert "This service exists to test error reporting." in page.text("#error-details")
    assert page.driver.current_url.endswith(f"#/errors/{reference}")

    page.click("#error-execution-link")
    page.wait_text("#exec-status", "failed")
    assert page.driver.current_url.endswith(f"#/executions/{failed.headers['X-Execution-ID']}")

    page.go("/errors/00000000-0000-7000-8000-000000000000")
    text = page.wait_alert("NOT_FOUND")
    assert "HTTP 404" in text, text


def test_no_content_security_policy_violation_in_any_view(signed_in, spo):
    page = signed_in
    csp = requests.get(spo.url("/admin/"), timeout=30).headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, csp

    failed = spo.execute("business_failure", {"p_code": "E404"})
    reference, execution_id = failed.json()["error"]["reference"], failed.headers["X-Execution-ID"]
    for route, ready in [("/services", "#services-table tr[data-testid='service-row']"),
                         ("/services/customer_search", "#try-form"),
                         ("/services/customer_search/edit", "#service-form"),
                         ("/services/new", "#service-form"),
                         ("/executions", "#exec-table tr[data-testid='exec-row']"),
                         (f"/executions/{execution_id}", "#reprocess-form"),
                         ("/connections", "#connections-table .badge-reachable"),
                         (f"/errors/{reference}", "#error-details")]:
        page.go(route)
        page.visible(ready)

    # Everything the browser logged in this module, including the tests above.
    violations = page.csp_violations()
    assert not violations, pretty(violations)
    errors = page.script_errors()
    assert not errors, pretty(errors)

    # The check itself works: an inline style set on the page is refused and logged.
    page.js("document.getElementById('view').setAttribute('style', 'color: red')")
    page.wait_for(lambda: page.csp_violations(), "the injected inline style to be reported")
