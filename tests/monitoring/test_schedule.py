"""On-call rotation (weekly handoff in local time, overrides) and metrics of a real TLS probe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry
from uptime import config
from uptime.config import Target
from uptime.metrics import Metrics
from uptime.probe import probe

from tests.monitoring.conftest import Pki, TargetServer

LA = ZoneInfo("America/Los_Angeles")


def oncall() -> config.Config:
    return config.parse({
        "targets": [{"name": "us-a", "cell": "us", "url": "http://127.0.0.1:9/"}],
        "people": {n: {"phone": f"+1555010{i}"} for i, n in enumerate(["alice", "bob", "carol", "dana"])},
        "oncall": {"timezone": "America/Los_Angeles", "rotation": ["alice", "bob", "carol"],
                   "handoff": "monday 09:00", "start": "2026-03-02",
                   "overrides": [{"person": "dana", "start": "2026-03-20 18:00", "end": "2026-03-21 09:00"}]},
    })


def at(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=LA).timestamp()


def test_weekly_rotation_hands_off_at_local_time_across_dst() -> None:
    schedule = oncall().oncall
    assert schedule is not None
    assert schedule.primary(at(2026, 3, 2, 8, 59)) == "carol"  # the week before the first handoff
    assert schedule.primary(at(2026, 3, 2, 9, 0)) == "alice"
    assert schedule.secondary(at(2026, 3, 2, 9, 0)) == "bob"
    # DST starts on Sunday 2026-03-08; Monday's handoff is still at 09:00 local (16:00 UTC, not 17:00).
    assert schedule.primary(at(2026, 3, 9, 8, 59)) == "alice"
    assert schedule.primary(at(2026, 3, 9, 9, 0)) == "bob"
    assert schedule.primary(at(2026, 3, 16, 9, 0)) == "carol"
    assert schedule.primary(at(2026, 3, 23, 9, 0)) == "alice"


def test_override_wins_for_its_period_only() -> None:
    schedule = oncall().oncall
    assert schedule is not None
    assert schedule.primary(at(2026, 3, 20, 17, 59)) == "carol"
    assert schedule.primary(at(2026, 3, 20, 18, 0)) == "dana"
    assert schedule.primary(at(2026, 3, 21, 9, 0)) == "carol"
    assert schedule.secondary(at(2026, 3, 20, 20, 0)) == "alice"  # the rotation's next, not the override's


def test_metrics_expose_the_leaf_expiry_and_failure_kinds(http_target: Callable[..., TargetServer],
                                                          pki: Pki) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    now = dt.datetime.now(dt.UTC)
    expiry = (now + dt.timedelta(days=45)).replace(microsecond=0)
    server = http_target(pki.leaf("metrics", now - dt.timedelta(days=1), expiry))
    labels = {"target": "eu-tls", "cell": "eu", "location": "local"}
    metrics.observe(probe(Target(name="eu-tls", cell="eu", url=server.url(), ca_file=str(pki.ca_file))))
    assert registry.get_sample_value("probe_ssl_earliest_cert_expiry", labels) == expiry.timestamp()
    assert registry.get_sample_value("probe_success", labels) == 1
    assert registry.get_sample_value("probe_http_status_code", labels) == 200
    server.behaviour.status = 500
    metrics.observe(probe(Target(name="eu-tls", cell="eu", url=server.url(), ca_file=str(pki.ca_file))))
    assert registry.get_sample_value("probe_success", labels) == 0
    assert registry.get_sample_value("uptime_probe_errors_total", {"kind": "status"}) == 1
    assert registry.get_sample_value("uptime_probe_errors_total", {"kind": "dns"}) == 0
