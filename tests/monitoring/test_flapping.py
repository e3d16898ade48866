"""Flap damping in the style of Nagios/Icinga: a target that keeps failing and recovering pages once, says
that it flaps, and recovers once it is stable (issue 15, finding 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from uptime import config, flapping, statuspage
from uptime.configparse import ConfigError
from uptime.flapping import FlapPolicy

from tests.monitoring.conftest import FakeClock, ProviderFake, TargetServer
from tests.monitoring.helpers import Harness, base_config
from tests.monitoring.test_paging import ENV, cell_targets, sms_log, twilio


def test_a_flapping_target_pages_once_and_recovers_once_stable(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    targets = [{**t, "interval": "10s"} for t in cell_targets([server], "eu")]
    h = Harness(base_config(tmp_path, targets, {"sms": twilio(provider)}), clock, ENV)
    # The finding: 30 s down, 30 s up, for 8 minutes: long enough each time to be confirmed down and up.
    states = []
    for _ in range(8):
        for status in (503, 503, 503, 200, 200, 200):
            server.behaviour.status = status
            h.round(advance=10)
        states.append(statuspage.snapshot(h.core, clock.now())["cells"][0]["state"])
    heads = [body.split(" since")[0].split(" after")[0].split(":")[0] for _, body in sms_log(provider)]
    assert heads == ["[slotstack] DOWN eu 1/1 checks", "[slotstack] RECOVERED eu", "[slotstack] FLAPPING eu"]
    assert states[-1] == "flapping"
    server.behaviour.status = 200
    for _ in range(30):  # bounded: a stable target settles within one flap window
        h.round(advance=10)
        if len(provider.requests) > 3:
            break
    assert [body.split(":")[0] for _, body in sms_log(provider)][3:] == ["[slotstack] RECOVERED eu"]
    assert "stable again after flapping since 14:02 UTC" in sms_log(provider)[3][1]
    for _ in range(5):
        h.round(advance=10)
    assert len(provider.requests) == 4  # and nothing after it
    assert statuspage.snapshot(h.core, clock.now())["cells"][0]["state"] == "up"
    h.close()


def test_a_single_long_outage_is_not_flapping(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    h = Harness(base_config(tmp_path, cell_targets([server], "eu"), {"sms": twilio(provider)}), clock, ENV)
    for status in [200] * 3 + [503] * 6 + [200] * 4:
        server.behaviour.status = status
        h.round()
    assert [body.split(" ")[1] for _, body in sms_log(provider)] == ["DOWN", "RECOVERED"]
    assert "flapping" not in sms_log(provider)[1][1]
    h.close()


def test_percent_state_change_weighs_recent_changes_more_and_has_hysteresis() -> None:
    policy = FlapPolicy(window=20, low=25, high=30)
    assert flapping.percent("0" * 21, policy) == 0
    assert flapping.percent("01" * 10 + "0", policy) == pytest.approx(100.0)
    old = "0101" + "0" * 17  # three changes long ago
    new = "0" * 17 + "0101"  # the same three changes just now
    assert flapping.percent(old, policy) < flapping.percent(new, policy)
    between = "0" * 15 + "010101"  # about 28 %: between the thresholds
    assert 25 < flapping.percent(between, policy) < 30
    assert flapping.flapping(between, was_flapping=False, policy=policy) is False
    assert flapping.flapping(between, was_flapping=True, policy=policy) is True


@pytest.mark.parametrize(("flap", "error"), [
    ({"low": 30, "high": 30}, "thresholds.flapping.low: 30 must be below flapping.high 30 (the hysteresis band)"),
    ({"high": 130}, "thresholds.flapping.high: 130 is not a percentage in (0, 100]"),
    ({"window": 2}, "thresholds.flapping.window: 2 is out of range; allowed 4..100"),
])
def test_flap_thresholds_are_validated(tmp_path: Path, flap: dict[str, object], error: str) -> None:
    doc = base_config(tmp_path, [{"name": "a", "cell": "eu", "url": "http://127.0.0.1:9/"}], {})
    doc["thresholds"]["flapping"] = flap
    with pytest.raises(ConfigError) as exc:
        config.parse(doc)
    assert str(exc.value) == error
