"""Incident changes are news: a cell that gets worse or better, an acknowledgement and an escalation each
reach the people who were paged, once, saying what changed (issue 15, findings 2 and 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.monitoring.conftest import FakeClock, ProviderFake, TargetServer
from tests.monitoring.helpers import Harness, base_config
from tests.monitoring.test_paging import ENV, ack_url, cell_targets, sms_log, twilio

RUNBOOK = " Runbook: https://example.com/runbook"  # with no ack link to carry, the runbook link fits


@pytest.mark.parametrize("acked", [False, True])
def test_a_cell_that_gets_worse_then_better_is_news_acknowledged_or_not(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake, acked: bool,
) -> None:
    servers = [http_target(), http_target()]
    h = Harness(base_config(tmp_path, cell_targets(servers, "eu"), {"sms": twilio(provider)}), clock, ENV)
    servers[0].behaviour.status = 503
    h.round()
    h.round()  # 14:02:30 eu-0 down: the page says 1/2
    assert [body for _, body in sms_log(provider)] == [
        f"[slotstack] DOWN eu 1/2 checks since 14:02 UTC: eu-0: status. Ack: {ack_url(1)}"]
    if acked:
        assert h.core.ack(1, "bob")
    servers[1].behaviour.status = 503
    h.round()
    h.round()  # 14:03:30 eu-1 down too
    h.round()
    news = [body for _, body in sms_log(provider)][1:]
    worse = f"[slotstack] WORSE eu 2/2 checks since 14:02 UTC, now also eu-1: status. Ack: {ack_url(1)}"
    if acked:
        assert news == ["[slotstack] ACKED eu by bob at 14:03 UTC: 1/2 checks down; escalation stopped.",
                        worse.split(" Ack:")[0] + RUNBOOK]
    else:
        assert news == [worse]
    servers[1].behaviour.status = 200
    h.round()
    h.round()  # eu-1 is back, eu-0 is not: better, not recovered
    h.round()
    assert [body for _, body in sms_log(provider)][len(news) + 1:] == [
        "[slotstack] BETTER eu 1/2 checks since 14:02 UTC, eu-1 ok again: status." +
        (RUNBOOK if acked else f" Ack: {ack_url(1)}")]
    assert {to for to, _ in sms_log(provider)} == {"+15550111"}  # only whoever was paged
    h.close()


def test_escalated_pages_say_so(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]},
             {"after": "5m", "notify": ["dana"], "channels": ["sms"]}]
    h = Harness(base_config(tmp_path, cell_targets([server], "eu"), {"sms": twilio(provider)}, steps), clock, ENV)
    server.behaviour.status = 500
    for _ in range(8):
        h.round(advance=60)
    assert [(to, body.split(" since")[0]) for to, body in sms_log(provider)] == [
        ("+15550111", "[slotstack] DOWN eu 1/1 checks"),
        ("+15550114", "[slotstack] ESCALATED DOWN eu 1/1 checks"),
    ]
    h.close()
