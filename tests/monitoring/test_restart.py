"""State survives a monitor restart of any length: open incidents are reconciled with fresh probes, and the
monitor's own downtime is unknown, never "up" (issue 15, finding 1)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from uptime import config, history, statuspage
from uptime.service import Service

from tests.monitoring.conftest import FIXED_DATES, FakeClock, PinnedClock, ProviderFake, TargetServer
from tests.monitoring.helpers import Harness, base_config
from tests.monitoring.test_paging import ENV, sms_log, twilio
from tests.monitoring.test_service import wait_for

# Longer than every timer of the config below: agent_silence (5 m) plus three 10 s intervals.
OUTAGE = 5 * 60 + 54


def two_checks(healthy: TargetServer, broken: TargetServer) -> list[dict[str, object]]:
    # The healthy check comes first, so after the restart its result is the first the cell sees.
    return [{"name": "eu-api", "cell": "eu", "url": healthy.url(), "interval": "10s", "timeout": "2s"},
            {"name": "eu-web", "cell": "eu", "url": broken.url(), "interval": "10s", "timeout": "2s"}]


def heads(provider: ProviderFake) -> list[str]:
    return [body.split(" (")[0].split(" checks")[0] for _, body in sms_log(provider)]


def test_long_restart_during_an_outage_sends_no_false_recovery(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    healthy, broken = http_target(), http_target()
    h = Harness(base_config(tmp_path, two_checks(healthy, broken), {"sms": twilio(provider)}), clock, ENV)
    broken.behaviour.status = 503
    h.round(advance=10)
    h.round(advance=10)
    assert heads(provider) == ["[slotstack] DOWN eu 1/2"]

    h.store.close()  # the monitor stops for 5m 54s while eu-web stays broken
    clock.advance(OUTAGE)
    h.open()
    assert [(v.down, v.unknown) for v in h.core.cells()] == [([], ("eu-web",))]  # not up: not known
    for _ in range(6):
        h.round(advance=10)
    assert heads(provider) == ["[slotstack] DOWN eu 1/2"]  # no RECOVERED, no second page
    assert h.store.value("SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL") == 1
    assert h.registry.get_sample_value("uptime_incidents_open", {"cell": "eu"}) == 1
    assert [v.down for v in h.core.cells()] == [["eu-web"]]

    broken.behaviour.status = 200
    h.round(advance=10)  # one success after the restart is not enough (up_after: 2)
    assert len(provider.requests) == 1
    h.round(advance=10)
    assert heads(provider) == ["[slotstack] DOWN eu 1/2", "[slotstack] RECOVERED eu after 7m 24s"]
    h.close()


def test_restart_reconciles_an_incident_whose_only_check_recovered_while_the_monitor_was_down(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    healthy, broken = http_target(), http_target()
    h = Harness(base_config(tmp_path, two_checks(healthy, broken), {"sms": twilio(provider)}), clock, ENV)
    broken.behaviour.status = 503
    h.round(advance=10)
    h.round(advance=10)
    h.store.close()
    clock.advance(OUTAGE)
    broken.behaviour.status = 200  # fixed while nobody watched
    h.open()
    h.round(advance=10)
    assert len(provider.requests) == 1  # one fresh success: still open
    h.round(advance=10)
    assert heads(provider)[1:] == ["[slotstack] RECOVERED eu after 6m 24s"]
    h.close()


def test_monitor_downtime_is_unknown_on_the_status_page_and_left_out_of_uptime(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    healthy, broken = http_target(), http_target()
    h = Harness(base_config(tmp_path, two_checks(healthy, broken), {"sms": twilio(provider)}), clock, ENV)
    h.round(advance=10)  # 14:02:00, the last probe before the monitor stops
    h.store.close()
    clock.advance(OUTAGE)
    h.open()  # 14:08:04
    h.round(advance=10)
    data = statuspage.snapshot(h.core, clock.now())
    assert data["monitor_gaps"] == [{"from": "2026-03-03T14:02:00+00:00", "to": "2026-03-03T14:08:04+00:00",
                                     "duration": "6m 04s"}]
    day = data["cells"][0]["daily"][-1]
    assert day["unknown_s"] == 364
    assert data["cells"][0]["uptime"]["24h"] == 100.0  # the gap counts neither as up nor as down
    assert "monitor offline" in statuspage.render_html(data)
    h.close()


def _run(service: Service) -> threading.Thread:
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    return thread


def test_real_monitor_stopped_longer_than_every_timer_reconciles_before_recovering(
    tmp_path: Path, http_target: Callable[[], TargetServer],
) -> None:
    healthy, broken = http_target(), http_target()
    targets = [{**t, "interval": "1s", "timeout": "0.5s"} for t in two_checks(healthy, broken)]
    doc = base_config(tmp_path, targets, {"sms": {"type": "outbox", "directory": str(tmp_path / "outbox")}},
                      escalation={"steps": [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]}],
                                  "reminder_every": "1m"})
    doc["monitor"]["agent_silence"] = "10s"  # every timer of this config is seconds long
    cfg = config.parse(doc)
    env = {"UPTIME_ACK_SECRET": "k", "UPTIME_AGENT_KEY": "agent-key"}
    start = FIXED_DATES["week-a"][0].timestamp()
    outbox = tmp_path / "outbox"

    def sms() -> list[str]:
        return sorted(p.read_text().split("\n\n", 1)[1] for p in outbox.glob("*.sms")) if outbox.exists() else []

    broken.behaviour.status = 503
    first = Service(cfg, clock=PinnedClock(start), environ=env, host="127.0.0.1", port=0)
    thread = _run(first)
    wait_for(lambda: len(sms()) == 1)
    first.stop()
    thread.join(10)

    # The second process starts 2 minutes later on the calendar, longer than agent_silence (10 s), three
    # intervals and the reminder period together; the probe counts below are waited for, not slept.
    second = Service(cfg, clock=PinnedClock(start + 120), environ=env, host="127.0.0.1", port=0)
    restarted = start + 120
    thread = _run(second)
    try:
        fresh = "SELECT COUNT(*) FROM results WHERE target = ? AND ts >= ?"
        wait_for(lambda: second.store.value(fresh, ("eu-web", restarted)) >= 3
                 and second.store.value(fresh, ("eu-api", restarted)) >= 3)
        assert not [m for m in sms() if "RECOVERED" in m]
        assert second.store.value("SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL") == 1
        assert second.store.value("SELECT COUNT(*) FROM monitor_gaps") == 1
        broken.behaviour.status = 200
        wait_for(lambda: any("RECOVERED eu" in m for m in sms()))
        ok = "SELECT COUNT(*) FROM results WHERE target = 'eu-web' AND ok = 1"
        assert second.store.value(ok) >= 2  # up_after fresh successes, made after the restart
    finally:
        second.stop()
        thread.join(10)


def test_after_a_restart_longer_than_every_timer_each_due_notice_goes_out_once(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    healthy, broken = http_target(), http_target()
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]},
             {"after": "15m", "notify": ["oncall_next"], "channels": ["sms"]}]
    doc = base_config(tmp_path, two_checks(healthy, broken), {"sms": twilio(provider)}, steps,
                      escalation={"steps": steps, "reminder_every": "10m"})
    h = Harness(doc, clock, ENV)
    broken.behaviour.status = 503
    h.round(advance=10)
    h.round(advance=10)
    assert heads(provider) == ["[slotstack] DOWN eu 1/2"]
    h.store.close()
    clock.advance(2 * 86400)  # two days (the same rotation week): past the escalation and many reminder periods
    h.open()
    for _ in range(6):
        h.round(advance=10)
    # Alice's overdue reminder and the escalation to the next person, once each; nothing resolved.
    assert sorted((to, body.split(" eu")[0]) for to, body in sms_log(provider)[1:]) == [
        ("+15550111", "[slotstack] REMINDER DOWN"), ("+15550112", "[slotstack] ESCALATED DOWN")]
    assert h.store.value("SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL") == 1
    clock.advance(400 * 86400)  # pruning never removes an open incident, however old
    history.prune(h.store, clock.now())
    assert h.store.value("SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL") == 1
    h.close()
