"""The public booking page, driven in headless Chromium: service -> day -> slot -> details -> confirmation."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.app.conftest import Service, make_business

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="booking-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1000,1200", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(executable_path="/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def heading(driver: WebDriver, text: str) -> None:
    """Wait until the page (after a navigation) shows `text` as its h1."""
    WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(
        lambda d: d.find_element(By.TAG_NAME, "h1").text == text)


def by_label(driver: WebDriver, text: str) -> object:
    """The form control a visible <label> points at (fails if the label is not wired to a control)."""
    label = driver.find_element(By.XPATH, f"//label[normalize-space()='{text}']")
    return driver.find_element(By.ID, label.get_attribute("for"))


def test_a_customer_books_and_cancels_in_the_browser(service: Service, browser: WebDriver,
                                                     artifacts_dir: Path) -> None:
    biz = make_business(service, "browser-dental")
    r = service.call("PUT", "/v1/questions", biz.token, json=[
        {"key": "visit", "label": "First visit?", "kind": "choice", "choices": ["yes", "no"], "required": True}])
    assert r.status_code == 200

    browser.get(f"{service.url}/{biz.slug}?tz=Europe/Berlin&lang=en-GB")
    heading(browser, "Browser-Dental")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Consultation").click()

    days = browser.find_elements(By.CSS_SELECTOR, "table.month a")
    assert browser.find_element(By.CSS_SELECTOR, "table.month caption").text == "January 2026"
    assert (days[0].text, days[0].get_attribute("aria-label")) == ("5", "Monday, 5 January 2026")  # the clock's
    days[0].click()
    heading(browser, "Consultation")
    # the customer is in London: the same slots, an hour earlier on the clock
    Select(by_label(browser, "Show times in")).select_by_visible_text("Europe/London")
    browser.find_element(By.CSS_SELECTOR, "form.tz button").click()
    WebDriverWait(browser, 15).until(lambda d: "Europe%2FLondon" in d.current_url)
    slots = browser.find_elements(By.CSS_SELECTOR, "a.slot")
    assert [s.text for s in slots[:3]] == ["08:00", "08:30", "09:00"]
    slots[1].click()

    assert "Monday, 5 January 2026, 08:30" in browser.page_source
    by_label(browser, "Name").send_keys("Robin Patient")
    by_label(browser, "Email").send_keys("robin@example.com")
    by_label(browser, "Phone (optional)").send_keys("+49 30 1234567")
    Select(by_label(browser, "First visit?")).select_by_visible_text("yes")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    heading(browser, "You are booked")
    shot = artifacts_dir / "booking-page-confirmation.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 1000

    listed = service.call("GET", "/v1/bookings", biz.token).json()["bookings"]
    assert len(listed) == 1
    assert listed[0]["start"] == "2026-01-05T08:30:00+00:00"  # 09:30 in Berlin
    assert listed[0]["answers"] == {"visit": "yes"}
    assert listed[0]["customer"]["name"] == "Robin Patient"

    browser.find_element(By.ID, "cancel-link").click()
    heading(browser, "Cancel this booking?")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    heading(browser, "Booking cancelled")
    assert service.call("GET", "/v1/bookings", biz.token).json()["bookings"][0]["status"] == "cancelled"


def test_a_taken_slot_shows_the_reason_on_the_form(service: Service, browser: WebDriver) -> None:
    biz = make_business(service, "browser-race")
    browser.get(f"{service.url}/{biz.slug}/book?service_id={biz.service_id}&staff_id={biz.staff_id}"
                "&start=2026-01-06T10:00:00%2B01:00&tz=Europe/Berlin")
    # someone else books the same time while the customer is typing
    taken = service.call("POST", f"/v1/public/{biz.slug}/bookings", json={
        "service_id": biz.service_id, "staff_id": biz.staff_id, "start": "2026-01-06T10:00:00+01:00",
        "customer": {"name": "Other", "email": "o@example.com"}})
    assert taken.status_code == 201
    by_label(browser, "Name").send_keys("Late Comer")
    by_label(browser, "Email").send_keys("late@example.com")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]"))
    assert "that time was just taken" in alert.text
    assert by_label(browser, "Name").get_attribute("value") == "Late Comer"
