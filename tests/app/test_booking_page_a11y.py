"""The booking page has no accessibility violations (axe-core, run in Debian's Chromium) and works at phone width.

axe-core comes from npm, pinned by tests/app/browser/package-lock.json; `npm ci` installs it on first use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.app.conftest import Service, make_business

pytestmark = pytest.mark.browser
BROWSER_DIR = Path(__file__).parent / "browser"
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(scope="module")
def axe_source() -> str:
    script = BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True, timeout=300,
                       capture_output=True)
    return script.read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="booking-a11y-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(executable_path="/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def violations(driver: WebDriver, axe: str) -> list[dict[str, Any]]:
    driver.execute_script(axe)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
        ".then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))))).catch(e => done(JSON.stringify([{id: 'axe-error',"
        " help: String(e)}])));")
    return list(json.loads(result))


def test_every_step_of_the_booking_page_passes_axe_at_desktop_and_phone_width(
        service: Service, browser: WebDriver, axe_source: str, artifacts_dir: Path) -> None:
    biz = make_business(service, "a11y-clinic")
    pages = {
        "services": f"/{biz.slug}?tz=Europe/Berlin",
        "days": f"/{biz.slug}/services/{biz.service_id}?tz=Europe/Berlin",
        "slots": f"/{biz.slug}/services/{biz.service_id}?tz=Europe/Berlin&day=2026-01-06",
        "details": (f"/{biz.slug}/book?service_id={biz.service_id}&staff_id={biz.staff_id}"
                    "&start=2026-01-06T10:00:00%2B01:00&tz=Europe/Berlin"),
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for width_name, width in WIDTHS.items():
        browser.set_window_size(width, 900)
        for name, path in pages.items():
            browser.get(service.url + path)
            found[f"{name}@{width_name}"] = violations(browser, axe_source)
            browser.save_screenshot(str(artifacts_dir / f"booking-{name}-{width_name}.png"))
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways at {width} px by {overflow} px"
    # the last step: fill the form at phone width, then check the confirmation page too
    browser.find_element(By.ID, browser.find_element(By.XPATH, "//label[normalize-space()='Name']")
                         .get_attribute("for")).send_keys("Robin Patient")
    browser.find_element(By.ID, browser.find_element(By.XPATH, "//label[normalize-space()='Email']")
                         .get_attribute("for")).send_keys("robin@example.com")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "You are booked"
    found["confirmation@phone"] = violations(browser, axe_source)
    browser.save_screenshot(str(artifacts_dir / "booking-confirmation-phone.png"))
    bad = {page: v for page, v in found.items() if v}
    assert not bad, json.dumps(bad, indent=1)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang")


def test_the_checker_itself_finds_a_violation(service: Service, browser: WebDriver, axe_source: str) -> None:
    """An image without alt text on a service page must be reported, or the test above proves nothing."""
    browser.get(service.url + "/healthz")
    browser.execute_script("document.body.innerHTML = '<img src=\"data:,\">';")
    assert "image-alt" in [v["id"] for v in violations(browser, axe_source)]
