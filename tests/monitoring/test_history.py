"""Rollups, pruning and uptime percentages; the status page built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from uptime import history, statuspage
from uptime.probe import Result

from tests.monitoring.conftest import FakeClock
from tests.monitoring.helpers import Harness, base_config

DAY = 86400


def result(name: str, ts: float, ok: bool, duration: float = 0.1) -> Result:
    return Result(name, "eu", "local", ts, ok, duration, None if ok else "status", "" if ok else "HTTP 500", 200)


@pytest.fixture
def harness(tmp_path: Path, clock: FakeClock) -> Harness:
    targets = [{"name": "eu-a", "cell": "eu", "url": "http://127.0.0.1:9/a"},
               {"name": "eu-b", "cell": "eu", "url": "http://127.0.0.1:9/b"}]
    return Harness(base_config(tmp_path, targets, {}, steps=[]), clock)


def test_uptime_windows_come_from_rollups_and_survive_pruning(harness: Harness, clock: FakeClock) -> None:
    now = clock.now()
    with harness.store.tx() as conn:
        # One probe every 5 minutes for 100 days; yesterday 1 in 8 fails (36 of 288), day 50 fails entirely.
        for k in range(100 * 288):
            ts = now - k * 300 - 30
            day = k // 288
            ok = not ((day == 1 and k % 8 == 0) or day == 50)
            history.record(conn, result("eu-a", ts, ok, 0.2 if ok else 1.0))
    before = history.uptime(harness.store, ["eu-a"], now)
    assert before["24h"] == 100.0
    # Hour rollups start at the first whole hour of the window, hence the small tolerance.
    assert before["7d"] == pytest.approx(100 * (1 - 36 / (7 * 288)), abs=0.02)
    assert before["30d"] == pytest.approx(100 * (1 - 36 / (30 * 288)), abs=0.02)
    assert before["90d"] == pytest.approx(100 * (1 - (36 + 288) / (90 * 288)), abs=0.02)
    deleted = history.prune(harness.store, now)
    assert deleted["results"] == 93 * 288  # raw results older than 7 days are gone...
    assert history.uptime(harness.store, ["eu-a"], now) == before  # ...the percentages are not
    assert history.uptime(harness.store, ["eu-b"], now) == {"24h": None, "7d": None, "30d": None, "90d": None}
    bars = history.daily(harness.store, ["eu-a"], now)
    assert len(bars) == 90
    assert all(b["uptime"] is not None for b in bars)
    # The all-failing 24 hours straddle two UTC days (the clock is at 14:02), so two bars are red.
    values = sorted(float(str(b["uptime"])) for b in bars)
    assert values[0] + values[1] == pytest.approx(100.0, abs=0.1)
    assert values[1] < 60
    assert values[2] >= 89.9


def test_rollups_older_than_400_days_are_pruned(harness: Harness, clock: FakeClock) -> None:
    now = clock.now()
    with harness.store.tx() as conn:
        history.record(conn, result("eu-a", now - 401 * DAY, True))
        history.record(conn, result("eu-a", now - 399 * DAY, True))
    deleted = history.prune(harness.store, now)
    assert (deleted["rollup_minute"], deleted["rollup_hour"]) == (1, 1)
    assert harness.store.value("SELECT COUNT(*) AS n FROM rollup_hour") == 1


def test_status_json_and_html_agree(harness: Harness, clock: FakeClock, tmp_path: Path) -> None:
    for _ in range(3):
        harness.core.record(result("eu-a", clock.now(), False))
        harness.core.record(result("eu-b", clock.now(), True))
        clock.advance(60)
    data = statuspage.write(harness.core, tmp_path / "site", clock.now())
    on_disk = json.loads((tmp_path / "site" / "status.json").read_text())
    assert on_disk == data
    (eu,) = data["cells"]
    assert (eu["state"], eu["down"], eu["total"]) == ("down", ["eu-a"], 2)
    assert eu["uptime"]["24h"] == 50.0
    assert len(eu["daily"]) == 90
    assert eu["daily"][-1]["uptime"] == 50.0
    assert data["incidents"][0]["targets"] == ["eu-a"]
    assert data["incidents"][0]["resolved_at"] is None
    html = (tmp_path / "site" / "index.html").read_text()
    assert html.count('class="bar"') == 90
    assert "24h: 50.00%" in html
    assert "#1 eu: since" in html
    assert "ongoing" in html
