"""The status page as a browser renders it: headless Chromium (Debian chromium + chromium-driver)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from uptime import statuspage
from uptime.probe import Result
from uptime.server import MonitorServer

from tests.monitoring.conftest import FakeClock
from tests.monitoring.helpers import Harness, base_config

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=900,1400", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    yield driver
    driver.quit()


def test_status_page_renders_bars_chart_and_states(tmp_path: Path, clock: FakeClock, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    targets = [{"name": f"{cell}-{n}", "cell": cell, "url": f"http://127.0.0.1:9/{n}"}
               for cell in ("us", "eu") for n in ("healthz", "readyz")]
    h = Harness(base_config(tmp_path, targets, {}, steps=[]), clock)
    start = clock.now() - 3 * 86400
    with h.store.tx() as conn:
        from uptime import history
        for k in range(3 * 24 * 12):  # three days of history, one probe per target every 5 minutes
            ts = start + k * 300
            for target in targets:
                ok = not (target["name"].startswith("eu") and 400 <= k < 430)
                history.record(conn, Result(target["name"], target["cell"], "local", ts, ok, 0.05 + (k % 12) / 100))
    for _ in range(2):
        h.core.record(Result("eu-healthz", "eu", "local", clock.now(), False, 2.0, "timeout", "no answer"))
        clock.advance(30)
    statuspage.write(h.core, tmp_path / "site", clock.now())
    server = MonitorServer(h.core, CollectorRegistry(), b"k", tmp_path / "site").start()
    try:
        browser.get(f"http://127.0.0.1:{server.port}/status/")
        assert browser.title == "slotstack status"
        cells = browser.find_elements(By.CSS_SELECTOR, "section.cell")
        assert [c.get_attribute("id") for c in cells] == ["cell-us", "cell-eu"]
        states = [c.find_element(By.CSS_SELECTOR, ".state").text for c in cells]
        assert states == ["up", "down"]
        for cell in cells:
            bars = cell.find_elements(By.CSS_SELECTOR, "svg.bars rect.bar")
            assert len(bars) == 90
            assert all(b.size["height"] > 20 and b.size["width"] > 2 for b in bars[-3:])
            chart = cell.find_element(By.CSS_SELECTOR, "svg.chart polyline")
            assert chart.size["width"] > 300  # the response-time line spans the chart
        eu_bars = cells[1].find_elements(By.CSS_SELECTOR, "rect.bar")
        fills = {b.get_attribute("fill") for b in eu_bars[-4:]}
        assert "#d0d7de" not in fills
        assert len(fills) >= 2  # recent days have data, one of them degraded
        shot = tmp_path / "status-page.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        artefacts = os.environ.get("ARTIFACTS_DIR")
        if artefacts:  # CI keeps the screenshot for humans to look at
            Path(artefacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(artefacts) / "monitoring-status-page.png")
    finally:
        server.stop()
        h.close()
