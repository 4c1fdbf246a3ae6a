"""Driving the admin page in headless Chromium (Selenium + Debian's chromium-driver).

`make_driver()` starts the browser; `AdminPage` wraps it with the few actions the tests need,
always waiting explicitly (WebDriverWait) for what the page shows, never sleeping.
The browser's console log is read through chromedriver (`goog:loggingPrefs`); reading it
empties chromedriver's buffer, so every read is kept in `AdminPage.console` for the CSP test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from e2e_support import REPO

CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = REPO / ".build" / "screenshots"
DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT = 10  # seconds: generous for a loaded 2-core machine; waits end as soon as the page is ready


class BrowserMissing(RuntimeError):
    pass


def make_driver() -> webdriver.Chrome:
    """Headless Chromium. Raises BrowserMissing with the fix when the binaries are absent."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not os.access(CHROMEDRIVER, os.X_OK) or browser is None:
        raise BrowserMissing(
            f"chromium and {CHROMEDRIVER} are needed for the admin page tests: "
            "`make test` installs them (Debian packages chromium and chromium-driver), "
            "or: apt-get install chromium chromium-driver python3-selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--disable-extensions",
                     "--no-first-run", "--no-default-browser-check", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


class AdminPage:
    """The admin page of one instance, in one browser tab."""

    def __init__(self, driver: webdriver.Chrome, base_url: str):
        self.driver = driver
        self.base_url = base_url
        self.console: list[dict] = []  # every console entry read so far, in order
        self.screenshot_taken = False  # set by a test that saved its own screenshot

    # -- navigation ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.base_url + "/admin/"

    def load(self, route: str = ""):
        """A full page load at /admin/#<route>: a new document, module state starts over (the
        tab's sessionStorage stays). From the page itself, driver.get() of the same URL with
        another hash would only be a hash change, hence the detour through about:blank."""
        if self.driver.current_url.startswith(self.url):
            self.driver.get("about:blank")
        self.driver.get(self.url + (f"#{route}" if route else ""))
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def go(self, route: str):
        """Navigates within the page (hash change), as a link click would, and waits until the
        new view has rendered (its first requests answered)."""
        if not self.driver.current_url.startswith(self.url) or self.js("return window.location.hash") == f"#{route}":
            self.load(route)
        else:
            self.mark_view()
            self.js("window.location.hash = arguments[0]", route)
        self.wait_view()

    def mark_view(self):
        """Marks the current view, so that wait_view() waits for the next one."""
        self.js("document.querySelectorAll('#view > .view').forEach(v => v.setAttribute('data-stale', ''))")

    def wait_view(self):
        """Waits for a rendered view that is not the one marked by mark_view() (or for the
        sign-in form, when the page signed out)."""
        self.wait.until(lambda d: d.execute_script(
            "return Boolean(document.querySelector('#view > .view:not([data-stale]):not([aria-busy])'))"
            " || !document.getElementById('signin').hidden"), message="the view to render")

    @property
    def wait(self) -> WebDriverWait:
        return WebDriverWait(self.driver, WAIT, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,))

    # -- elements --------------------------------------------------------------------------------

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css: str) -> WebElement:
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)),
                               message=f"{css} to be visible")

    def clickable(self, css: str) -> WebElement:
        return self.wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)),
                               message=f"{css} to be clickable")

    def click(self, css: str):
        self.clickable(css).click()

    def fill(self, css: str, text: str):
        element = self.visible(css)
        element.clear()
        element.send_keys(text)

    def select(self, css: str, value: str):
        Select(self.visible(css)).select_by_value(value)

    def text(self, css: str) -> str:
        return self.visible(css).text

    def wait_text(self, css: str, expected: str) -> WebElement:
        """Waits until the element's visible text contains `expected`; returns the element."""
        def ready(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and expected in element.text:
                    return element
            return False
        try:
            return self.wait.until(ready)
        except Exception:
            shown = [e.text for e in self.find_all(css)]
            raise AssertionError(f"{css} never showed {expected!r}; it shows {shown!r}; "
                                 f"alert: {self.alert_text()!r}") from None

    def wait_for(self, predicate, message: str):
        return self.wait.until(lambda driver: predicate(), message=message)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    # -- the page's own regions ----------------------------------------------------------------

    def alert_text(self) -> str:
        elements = self.find_all("#alert")
        return elements[0].text if elements else ""

    def wait_alert(self, expected: str) -> str:
        return self.wait_text("#alert", expected).text

    def no_alert(self):
        assert self.alert_text() == "", f"unexpected alert: {self.alert_text()}"

    def session_key(self):
        return self.js("return window.sessionStorage.getItem('spo.apiKey')")

    def signed_in(self) -> bool:
        return bool(self.find_all("#nav")) and self.find("#nav").is_displayed()

    def sign_in(self, key: str):
        """Through the form; waits until the view of the current route has rendered."""
        self.fill("#signin-key", key)
        self.click("#signin-submit")
        self.visible("#nav")
        self.wait_view()

    def ensure_signed_in(self, key: str):
        if not self.driver.current_url.startswith(self.url):
            self.load("/services")
        self.wait.until(lambda d: self.find("#nav").is_displayed() or self.find("#signin").is_displayed())
        if not self.signed_in():
            self.sign_in(key)

    def native_alert_present(self) -> bool:
        """Whether a window.alert/confirm dialog is open (an injected script would open one)."""
        try:
            self.driver.switch_to.alert
        except NoAlertPresentException:
            return False
        return True

    # -- evidence --------------------------------------------------------------------------------

    def read_console(self) -> list[dict]:
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def csp_violations(self) -> list[dict]:
        self.read_console()
        # Chromium words them "Refused to load/execute ..." or "Applying inline style violates ...",
        # always naming the Content Security Policy, from the "security" source.
        return [e for e in self.console if e.get("source") == "security"
                or "Content Security Policy" in e.get("message", "") or "Refused to" in e.get("message", "")]

    def script_errors(self) -> list[dict]:
        """Uncaught exceptions and module load failures (not failed HTTP answers: a 401 or 404
        answered on purpose is logged by Chromium as a failed resource, which is expected)."""
        self.read_console()
        return [e for e in self.console if e.get("level") == "SEVERE"
                and "Failed to load resource" not in e.get("message", "")
                and e.get("source") != "security" and "Content Security Policy" not in e.get("message", "")]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def resize(self, size: tuple[int, int]):
        self.driver.set_window_size(*size)

    def viewport(self) -> dict:
        return self.js("return {inner: window.innerWidth, scroll: document.documentElement.scrollWidth,"
                       " bodyScroll: document.body.scrollWidth}")


def pretty(entries: list[dict]) -> str:
    return json.dumps(entries, indent=2)
