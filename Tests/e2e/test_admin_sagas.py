"""The admin page's Sagas view in headless Chromium, over saga rows written with SQL as the engine
writes them: the list filtered by state and service and paged by cursor, a saga's step timeline
(states, durations, outputs, the compensation under each step, the events in order, links to the
executions), "Retry compensation" and its error display, phone width, and no CSP violation.

Each test leaves a screenshot in .build/screenshots/<test name>.png.
"""

from __future__ import annotations

import uuid

from browser_support import DESKTOP, PHONE, pretty
from saga_rows import insert_saga
from test_admin_page import admin, admin_key, page, signed_in  # noqa: F401 (fixtures)


def saga_rows(page) -> list[str]:
    return [row.get_attribute("data-id") for row in page.find_all("#saga-table tbody tr[data-testid='saga-row']")]


def test_the_sagas_list_filters_by_state_and_service_and_pages(signed_in, spo):
    page = signed_in
    service = f"ui_saga_{uuid.uuid4().hex[:6]}"
    made = [(insert_saga(spo, service=service, state="compensated" if i % 4 == 0 else "completed"),
             "compensated" if i % 4 == 0 else "completed") for i in range(12)]
    newest_first = [saga_id for saga_id, _ in reversed(made)]

    page.go("/sagas")
    page.click("#nav-sagas")
    page.fill("#saga-service", service)
    page.select("#saga-limit", "10")
    page.mark_view()
    page.click("#saga-apply")
    page.wait_view()
    page.wait_for(lambda: saga_rows(page) == newest_first[:10], "the first page of ten")
    assert page.text("#saga-page") == "Page 1"
    page.mark_view()
    page.click("#saga-older")
    page.wait_view()
    page.wait_for(lambda: saga_rows(page) == newest_first[10:], "the older page")
    assert page.find("#saga-older").get_attribute("disabled") is not None
    page.mark_view()
    page.click("#saga-newest")
    page.wait_view()
    page.wait_for(lambda: saga_rows(page) == newest_first[:10], "back to the newest page")

    page.select("#saga-state", "compensated")
    page.mark_view()
    page.click("#saga-apply")
    page.wait_view()
    compensated = [saga_id for saga_id, state in reversed(made) if state == "compensated"]
    page.wait_for(lambda: saga_rows(page) == compensated, "only the compensated sagas")
    states = {row.get_attribute("data-state") for row in page.find_all("#saga-table tr[data-testid='saga-row']")}
    assert states == {"compensated"}
    assert page.js("return window.location.hash").startswith("#/sagas?")


def test_a_saga_shows_its_step_timeline(signed_in, spo):
    page = signed_in
    executions = [spo.execute("customer_get", {"p_id": n}).headers["X-Execution-ID"] for n in (1, 2, 3)]
    saga_id = insert_saga(spo, service="ui_timeline", state="compensation_failed",
                          error={"code": "SP_EXECUTION_FAILED", "step": "ship"}, execution_ids=executions,
                          steps=[{"name": "reserve", "state": "done", "compensation": "done",
                                  "output": [{"reservation": "<b>R-1</b>"}]},
                                 {"name": "charge", "state": "done", "compensation": "failed"},
                                 {"name": "ship", "state": "failed"}])
    page.go("/sagas?service=ui_timeline")
    page.click(f"#saga-table tr[data-id='{saga_id}'] [data-testid='saga-link']")
    page.visible("#saga-timeline")
    assert page.text("#saga-state-text") == "compensation_failed"
    steps = page.find_all("#saga-timeline [data-testid='saga-step']")
    assert [s.get_attribute("data-step") for s in steps] == ["reserve", "charge", "ship"]
    assert [s.get_attribute("data-state") for s in steps] == ["done", "done", "failed"]
    # The compensation under its step; the failed step has none.
    assert [[c.get_attribute("data-state") for c in s.find_elements("css selector", "[data-testid='saga-compensation']")]
            for s in steps] == [["done"], ["failed"], []]
    assert "40 ms" in steps[0].text and "3 attempts" in steps[1].text
    assert "payments is down" in steps[1].text and "no stock" in steps[2].text
    # Outputs rendered as text, never as HTML.
    output = steps[0].find_element("css selector", "[data-testid='saga-step-output']")
    assert "<b>R-1</b>" in output.text and not page.find_all("#saga-timeline b")
    events = [e.get_attribute("data-event") for e in page.find_all("#saga-events tr[data-testid='saga-event']")]
    assert events == ["saga_started", "step_started", "step_done", "step_started", "step_done", "step_started",
                      "step_failed", "compensation_failed", "compensation_done", "saga_compensation_failed"]

    # Each step links to its execution's page.
    page.mark_view()
    steps[1].find_element("css selector", "[data-testid='saga-step-execution']").click()
    page.wait_view()
    page.wait_text("#exec-id", executions[1])
    page.driver.back()
    page.visible("#saga-timeline")


def test_retry_compensation_is_offered_only_when_it_failed_and_shows_a_refusal(signed_in, spo):
    page = signed_in
    done = insert_saga(spo, service="ui_retry", state="compensated",
                       steps=[{"name": "reserve", "state": "done", "compensation": "done"},
                              {"name": "charge", "state": "failed"}])
    page.go(f"/sagas/{done}")
    page.visible("#saga-timeline")
    assert not page.find_all("#saga-retry")

    stuck = insert_saga(spo, service="ui_retry", state="compensation_failed",
                        steps=[{"name": "reserve", "state": "done", "compensation": "failed"},
                               {"name": "charge", "state": "failed"}])
    page.go(f"/sagas/{stuck}")
    page.visible("#saga-retry")
    # Someone else settled it meanwhile: the retry is refused (409 SAGA_NOT_COMPENSABLE) and the
    # page shows the API's error.
    spo.psql(f"UPDATE spo.saga SET state = 'compensated' WHERE id = '{stuck}'")
    page.click("#saga-retry")
    text = page.wait_alert("Retrying the compensation failed")
    assert "HTTP 409" in text, text
    assert page.find_all("[data-testid='alert-reference']"), text
    assert page.find("#saga-retry").is_enabled()


def test_the_sagas_views_work_at_phone_width_without_csp_violations(signed_in, spo):
    page = signed_in
    saga_id = insert_saga(spo, service="ui_phone_width_with_a_long_service_name", state="compensation_failed",
                          steps=[{"name": "reserve_the_seats_in_every_group", "state": "done", "compensation": "failed",
                                  "output": [{"note": "x" * 300}]},
                                 {"name": "charge", "state": "failed"}])
    try:
        page.resize(PHONE)
        page.go("/sagas")
        page.visible("#saga-table tr[data-testid='saga-row']")
        width = page.viewport()
        assert width["inner"] <= PHONE[0] and width["scroll"] <= width["inner"], width
        page.visible("#nav-sagas")
        page.go(f"/sagas/{saga_id}")
        page.visible("#saga-retry")
        width = page.viewport()
        assert width["scroll"] <= width["inner"], width
        page.screenshot("test_the_sagas_views_work_at_phone_width")
        page.screenshot_taken = True
    finally:
        page.resize(DESKTOP)
    violations = page.csp_violations()
    assert not violations, pretty(violations)
    errors = page.script_errors()
    assert not errors, pretty(errors)
