"""The admin page's live dashboard (#/dashboard) in headless Chromium against the real stack: it
follows load the test itself generates (requests that succeed and requests that fail), fits a
phone, draws with Debian's Chart.js served by nginx from the package's directory, and says so
when that library is missing.

The page reads GET /api/stats every 2 s; every check waits (with a deadline) for what the page
displays in DOM elements, never for a fixed time.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

import e2e_support
from browser_support import DESKTOP, PHONE, AdminPage
from e2e_support import REPO

CHART_JS_DIR = Path("/usr/share/javascript/chart.js")
LIVE = 30  # seconds: several 2 s polls on a loaded machine; waits end as soon as the page shows it


def admin_key() -> str:
    return e2e_support.AUTH["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="module")
def admin(spo, browser) -> AdminPage:
    return AdminPage(browser, spo.base_url)


@pytest.fixture
def page(admin, pool, request):
    admin.resize(DESKTOP)
    admin.ensure_signed_in(admin_key())
    yield admin
    admin.screenshot(request.node.name)
    admin.resize(DESKTOP)


def shown(page: AdminPage, css: str) -> str:
    elements = page.find_all(css)
    return elements[0].text.strip() if elements else ""


def number(text: str) -> float | None:
    match = re.match(r"^-?[\d,]+(\.\d+)?", text)
    return float(match.group(0).replace(",", "")) if match else None


def wait_shown(page: AdminPage, what: str, predicate, timeout: float = LIVE):
    """Waits until predicate() is true, saying what the dashboard showed if it never is."""
    try:
        # The page re-renders what changed: an element read as it is replaced is stale, not a failure.
        WebDriverWait(page.driver, timeout, poll_frequency=0.1,
                      ignored_exceptions=[StaleElementReferenceException]).until(lambda _: predicate())
    except Exception:
        values = {css: shown(page, css) for css in ("#dash-rps", "#dash-error-rate", "#dash-requests",
                                                    "#dash-errors", "#dash-updated")}
        raise AssertionError(f"the dashboard never showed {what}; it shows {values}; "
                             f"alert: {page.alert_text()!r}") from None


def open_dashboard(page: AdminPage):
    page.go("/dashboard")
    wait_shown(page, "a first reading", lambda: number(shown(page, "#dash-requests")) is not None)


def stats_totals(pool) -> tuple[int, int]:
    """Execution requests and those answered 4xx/5xx, as GET /api/stats counts them now."""
    body = requests.get(pool.url("/api/stats"), timeout=10).json()
    errors = sum(count for service in body["services"] for status, count in service["statuses"].items()
                 if status == "other" or int(status) >= 400)
    return body["requests"], errors


class Load:
    """Execution requests from a thread until stopped: every fourth one fails validation (400),
    the others succeed (200). Counts what was sent and what came back."""

    def __init__(self, pool):
        self.pool = pool
        self.stopped = threading.Event()
        self.sent = 0
        self.failed = 0
        self.unexpected: list[tuple[int, str]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with requests.Session() as session:
            while not self.stopped.is_set():
                failing = self.sent % 4 == 3
                response = self.pool.execute("customer_get", {"p_id": 0 if failing else 1 + self.sent % 50},
                                             session=session)
                self.sent += 1
                if response.status_code != (400 if failing else 200):
                    self.unexpected.append((response.status_code, response.text[:200]))
                if response.status_code >= 400:
                    self.failed += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the load thread did not stop"


def canvas_drawn(page: AdminPage, css: str) -> bool:
    """Whether Chart.js painted anything on the canvas (some pixel not transparent)."""
    return page.js("""
        const c = document.querySelector(arguments[0]);
        if (!c || !c.width || !c.height) return false;
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
        return false;""", css)


# ------------------------------------------------------------------------------------------------


def test_the_dashboard_follows_load_the_test_generates(page, pool):
    open_dashboard(page)
    requests_before, errors_before = stats_totals(pool)
    # Nothing else executes meanwhile: the page shows the pool's totals as /api/stats counts them.
    wait_shown(page, f"{requests_before} requests",
               lambda: number(shown(page, "#dash-requests")) == requests_before
               and number(shown(page, "#dash-errors")) == errors_before)
    page.visible("#nav-dashboard[aria-current='page']")

    with Load(pool) as load:
        # While the load runs: a rate above zero, and an error rate between none and all (one
        # request in four fails), in the tiles and in the chart's accessible label.
        wait_shown(page, "a request rate", lambda: (number(shown(page, "#dash-rps")) or 0) > 0.5)
        wait_shown(page, "an error rate of the mixed load",
                   lambda: 5 <= (number(shown(page, "#dash-error-rate")) or 0) <= 60)
        label = page.find("#dash-chart-rate").get_attribute("aria-label")
        assert re.search(r"now [1-9][\d,]*\.\d|now 0\.[1-9]", label), label
        # p50/p95 of the service under load, from the histogram's buckets.
        row = "#dash-services tr[data-service='customer_get']"
        wait_shown(page, "customer_get's latency", lambda: bool(page.find_all(row)))
        cells = [c.text for c in page.find_all(f"{row} td")]
        assert re.match(r"^[\d.]+ (ms|s)$", cells[3]) and re.match(r"^(≥ )?[\d.]+ (ms|s)$", cells[4]), cells
        assert float(cells[1]) > 0, cells
    assert load.unexpected == [], load.unexpected
    assert load.sent >= 8 and load.failed == load.sent // 4, (load.sent, load.failed)

    # After the load: exactly what the test sent, counted; the rate falls back to zero.
    wait_shown(page, f"{requests_before + load.sent} requests and {errors_before + load.failed} errors",
               lambda: number(shown(page, "#dash-requests")) == requests_before + load.sent
               and number(shown(page, "#dash-errors")) == errors_before + load.failed)
    wait_shown(page, "the rate back to zero", lambda: shown(page, "#dash-rps") == "0.0")

    # Workers: every running one listed, busy + idle = the pool.
    slots = pool.upstream_slots()
    assert len(page.find_all("#dash-workers tr[data-testid='dash-worker-row']")) >= len(slots)
    busy, of = re.match(r"^(\d+) of (\d+)$", shown(page, "#dash-workers-busy")).groups()
    assert int(of) == len(slots) and 0 <= int(busy) <= len(slots)
    assert shown(page, "#dash-crash-looping") == "none"
    assert number(shown(page, "#dash-restarts")) is not None

    # Chart.js drew and nothing broke the page's CSP.
    assert page.find("#dash-charts-missing").get_attribute("hidden") is not None
    assert canvas_drawn(page, "#dash-chart-rate") and canvas_drawn(page, "#dash-chart-workers")
    assert page.csp_violations() == [], page.csp_violations()
    assert page.script_errors() == [], page.script_errors()
    # Every connection's breaker is listed, closed (nothing to reset), and the queue is empty.
    connections = pool.psql("SELECT name FROM spo.connection ORDER BY name").split()
    rows = page.find_all("#dash-breakers tr[data-testid='breaker-row']")
    assert sorted(row.get_attribute("data-connection") for row in rows) == connections
    assert all(not row.find_element("css selector", "button").is_enabled() for row in rows)
    assert shown(page, "#dash-queue-depth") == "0"
    page.no_alert()


def test_an_open_breaker_shows_and_its_reset_button_closes_it(page, pool):
    """A breaker opened in the shared table (as a worker would) shows open on the dashboard; its
    Reset button closes it on every worker, and the service answers again."""
    connection = pool.psql("SELECT connection FROM spo.service WHERE name = 'customer_get'").strip()
    pool.psql(f"""INSERT INTO spo.circuit_breaker (connection, state, generation, opened_at, open_until, changed_by,
                      reason)
                  VALUES ('{connection}', 'open', 1, now(), now() + interval '1 hour', 'test', 'opened by the test')
                  ON CONFLICT (connection) DO UPDATE SET state = 'open', generation = spo.circuit_breaker.generation + 1,
                      open_until = now() + interval '1 hour'""")
    try:
        e2e_support.wait_for(lambda: pool.execute("customer_get", {"p_id": 1}).status_code == 503, 10,
                             interval=0.1, message="the pool to refuse with the breaker open")
        open_dashboard(page)
        row = f"#dash-breakers tr[data-connection='{connection}']"
        wait_shown(page, "the breaker open", lambda: "open" in shown(page, row).lower()
                   and page.find(f"{row} button").is_enabled())
        page.find(f"{row} button").click()
        try:
            wait_shown(page, "the breaker closed", lambda: "closed" in shown(page, row).lower())
        except AssertionError as failure:
            table = pool.psql(f"SELECT state, generation, changed_by, reason FROM spo.circuit_breaker "
                              f"WHERE connection = '{connection}'")
            raise AssertionError(f"{failure}; the row shows {shown(page, row)!r}; the table holds {table!r}; "
                                 f"script errors: {page.script_errors()}") from None
        e2e_support.wait_for(lambda: pool.execute("customer_get", {"p_id": 1}).status_code == 200, 10,
                             interval=0.1, message="the service to answer again")
        assert pool.psql(f"SELECT state FROM spo.circuit_breaker WHERE connection = '{connection}'").strip() == "closed"
    finally:
        requests.post(pool.url(f"/api/connections/{connection}/breaker/reset"), timeout=30)


def test_the_dashboard_fits_a_phone(page, pool):
    page.resize(PHONE)
    open_dashboard(page)
    assert pool.execute("customer_get", {"p_id": 1}).status_code == 200
    wait_shown(page, "the latency table", lambda: bool(page.find_all("#dash-services tr[data-service='customer_get']")))
    width = page.viewport()
    assert width["inner"] <= PHONE[0] and width["scroll"] <= width["inner"], width
    assert width["bodyScroll"] <= width["inner"], width
    for css in ("#nav-dashboard", "#dash-pause", "#dash-rps", "#dash-error-rate", "#dash-chart-rate",
                "#dash-chart-errors", "#dash-chart-workers", "#dash-services", "#dash-workers"):
        element = page.visible(css)
        box = page.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right]", element)
        assert 0 <= box[0] and box[1] <= width["inner"] + 0.5, (css, box, width)
    assert canvas_drawn(page, "#dash-chart-rate")


def test_chart_js_is_served_by_nginx_from_the_debian_package(spo):
    for name in ("chart.esm.js", "chunks/helpers.segment.js"):
        response = requests.get(spo.url(f"/javascript/chart.js/{name}"), timeout=10, headers={"Authorization": None})
        assert response.status_code == 200, (name, response.status_code)
        assert response.headers["Content-Type"].startswith("application/javascript"), response.headers
        assert response.content == (CHART_JS_DIR / name).read_bytes(), name
    # From the package's directory, not from a copy in www/.
    site = Path(spo.site_path).read_text()
    assert re.search(r"location /javascript/chart\.js/ \{\s*alias /usr/share/javascript/chart\.js/;", site), site
    assert not [p for p in (REPO / "www").rglob("*") if "chart" in p.name.lower() and p.name != "charts.js"]


def test_the_dashboard_says_when_chart_js_is_missing(page, pool):
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/javascript/chart.js/*"]})
    try:
        page.load("/dashboard")
        page.wait_view()
        message = page.visible("#dash-charts-missing").text
        assert "libjs-chart.js" in message and "/javascript/chart.js/" in message, message
        assert not page.find("#dash-chart-rate").is_displayed()
        # The numbers still update without the library.
        requests_before, _ = stats_totals(pool)
        assert pool.execute("customer_get", {"p_id": 2}).status_code == 200
        wait_shown(page, "the new request", lambda: (number(shown(page, "#dash-requests")) or 0) >= requests_before + 1)
        assert page.script_errors() == [], page.script_errors()
    finally:
        page.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        page.driver.execute_cdp_cmd("Network.disable", {})


def histogram_quantile(q: float, buckets: list[tuple[float, int]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative (le, count) buckets, the last le +Inf."""
    total = buckets[-1][1]
    if total == 0:
        return None
    rank = q * total
    lower, below = 0.0, 0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / (count - below) if count > below else le
        lower, below = le, count
    return lower


def test_the_dashboards_percentiles_and_rates_are_prometheus_arithmetic(page):
    """The page's own module (www/js/stats.js), loaded in the browser as the dashboard loads it."""
    page.go("/dashboard")
    cases = [
        [(0.001, 0), (0.0025, 10), (0.005, 20), (float("inf"), 20)],
        [(0.001, 3), (0.0025, 3), (0.005, 7), (0.01, 9), (float("inf"), 10)],
        [(0.001, 0), (float("inf"), 5)],  # all beyond the largest bound: "at least" that bound
        [(0.001, 0), (float("inf"), 0)],  # no request
    ]
    as_js = [[{"le": None if le == float("inf") else le, "count": count} for le, count in case] for case in cases]
    answers = page.driver.execute_async_script("""
        const [cases, done] = arguments;
        import('/admin/js/stats.js').then((stats) => {
          const quantiles = cases.map((c) => {
            const buckets = c.map((b) => ({ le: b.le === null ? Infinity : b.le, count: b.count }));
            return [0.5, 0.95, 0.99].map((q) => stats.quantile(buckets, q));
          });
          const service = (requests, ok, bad, buckets) => ({ name: 'a', requests, statuses: { 200: ok, 503: bad },
            server_errors: bad, duration_buckets: buckets });
          const stat = (requests, ok, bad, buckets) => ({ requests, services: [service(requests, ok, bad, buckets)],
            workers: { busy: 1, idle: 1, slots: [] }, extra: [] });
          const before = stats.reading(stat(10, 8, 2, [{ le: 0.001, count: 10 }, { le: null, count: 10 }]), 1000);
          const after = stats.reading(stat(30, 23, 7, [{ le: 0.001, count: 20 }, { le: null, count: 30 }]), 5000);
          const restarted = stats.reading(stat(4, 4, 0, [{ le: 0.001, count: 4 }, { le: null, count: 4 }]), 7000);
          done({ quantiles, interval: stats.interval(before, after), reset: stats.interval(after, restarted) });
        }, (error) => done({ error: String(error) }));""", as_js)
    assert "error" not in answers, answers
    for case, got in zip(cases, answers["quantiles"]):
        expected = [histogram_quantile(q, case) for q in (0.5, 0.95, 0.99)]
        assert got == pytest.approx(expected) if expected[0] is not None else got == [None, None, None], (case, got)
    interval = answers["interval"]
    # 20 requests in 4 s, 5 of them 503; the service's 20 new ones: 10 ≤ 1 ms, 10 beyond.
    assert interval["rate"] == pytest.approx(5.0) and interval["errorRate"] == pytest.approx(1.25)
    assert interval["errorShare"] == pytest.approx(0.25)
    assert interval["services"][0]["p50"] == pytest.approx(0.001) and interval["services"][0]["requests"] == 20
    # Counters that went backwards (spo serve restarted): the interval counts from zero, never negative.
    assert answers["reset"]["requests"] == 4 and answers["reset"]["errors"] == 0
    assert answers["reset"]["services"][0]["requests"] == 4
