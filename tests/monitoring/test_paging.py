"""Exact notification sequences for real outages of local targets, on a fake clock."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from uptime import tokens

from tests.monitoring.conftest import FakeClock, Pki, ProviderFake, SmtpSink, TargetServer
from tests.monitoring.helpers import ACK_SECRET, SID, Harness, base_config

ENV = {"TWILIO_TOKEN": "tw-secret"}


def sms_log(provider: ProviderFake) -> list[tuple[str, str]]:
    """(To, Body) of every SMS the Twilio fake received, after checking the request is exactly right."""
    out = []
    for request in provider.requests:
        assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
        assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:tw-secret".encode()).decode()
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), strict_parsing=True).items()}
        assert set(form) == {"To", "From", "Body"}
        assert form["From"] == "+15550100"
        out.append((form["To"], form["Body"]))
    return out


def twilio(provider: ProviderFake) -> dict[str, object]:
    return {"type": "twilio", "account_sid": SID, "auth_token_env": "TWILIO_TOKEN", "from": "+15550100",
            "api_base": provider.url}


def cell_targets(servers: list[TargetServer], cell: str) -> list[dict[str, object]]:
    return [{"name": f"{cell}-{i}", "cell": cell, "url": s.url(), "timeout": "2s"} for i, s in enumerate(servers)]


def ack_url(incident: int) -> str:
    return f"https://uptime.example.com/ack/{tokens.sign(incident, ACK_SECRET)}"


def test_cell_outage_pages_once_survives_restart_and_recovers(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
    smtp: tuple[SmtpSink, int],
) -> None:
    sink, port = smtp
    eu = [http_target() for _ in range(3)]
    us = [http_target()]
    doc = base_config(tmp_path, cell_targets(eu, "eu") + cell_targets(us, "us"), {
        "sms": twilio(provider),
        "mail": {"type": "email", "host": "127.0.0.1", "port": port, "starttls": False,
                 "from": "uptime@example.com"},
    })
    h = Harness(doc, clock, ENV)
    h.round()  # 14:02:00 all up
    for server in eu:
        server.behaviour.status = 503
    h.round()  # 14:02:30 first failure: suspect, nobody paged
    assert provider.requests == []
    assert sink.messages == []
    h.round()  # 14:03:00 second failure: down, one incident for the whole cell
    down = f"[slotstack] DOWN eu 3/3 checks since 14:02 UTC: eu-0, eu-1, eu-2: status. Ack: {ack_url(1)}"
    assert sms_log(provider) == [("+15550111", down)]
    assert len(down) <= 160
    assert len(sink.messages) == 1
    sender, rcpts, raw = sink.messages[0]
    assert (sender, rcpts) == ("uptime@example.com", ["alice@example.com"])
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "[slotstack] DOWN eu: 3/3 checks failing"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Failing since: 2026-03-03 14:02:30 UTC" in text
    assert f"- eu-0 ({eu[0].url()}): status: HTTP 503, expected 200" in text
    assert f"Acknowledge: {ack_url(1)}" in text
    assert "Runbook: https://example.com/runbook" in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<td>eu-2</td>" in html
    assert 'href="https://uptime.example.com/status/"' in html

    h.restart()  # the process dies mid-incident and comes back
    h.round()  # 14:03:30 still down: nothing is sent twice
    assert len(provider.requests) == 1
    assert len(sink.messages) == 1

    for server in eu:
        server.behaviour.status = 200
    h.round()  # 14:04:00 recovering
    assert len(provider.requests) == 1
    h.round()  # 14:04:30 up: recovery notice to whoever was paged
    assert sms_log(provider)[1:] == [
        ("+15550111", "[slotstack] RECOVERED eu after 2m 00s (down since 14:02 UTC)")]
    recovery = email.message_from_bytes(sink.messages[1][2], policy=email.policy.default)
    assert recovery["Subject"] == "[slotstack] RECOVERED eu after 2m 00s"
    h.round()
    h.restart()
    h.round()
    assert len(provider.requests) == 2
    assert len(sink.messages) == 2  # no duplicate recovery either
    h.close()


def test_single_failures_and_flapping_never_page(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    h = Harness(base_config(tmp_path, cell_targets([server], "us"), {"sms": twilio(provider)}), clock, ENV)
    for status in (200, 500, 200, 500, 200, 500, 200):
        server.behaviour.status = status
        h.round()
    assert provider.requests == []
    assert h.store.query("SELECT COUNT(*) AS n FROM incidents")[0]["n"] == 0
    h.close()


def test_reminder_escalation_ack_and_recovery(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]},
             {"after": "15m", "notify": ["oncall_next"], "channels": ["sms"]}]
    doc = base_config(tmp_path, cell_targets([server], "au"), {"sms": twilio(provider)}, steps,
                      escalation={"steps": steps, "reminder_every": "10m"})
    h = Harness(doc, clock, ENV)
    server.behaviour.hang_up = True
    sent_at: list[tuple[float, str, str]] = []
    start = clock.now()
    for _ in range(30):  # 30 minutes, one probe a minute
        before = len(provider.requests)
        h.round(advance=60)
        for to, body in sms_log(provider)[before:]:
            sent_at.append((clock.now() - 60 - start, to, body.split(" checks")[0]))
    assert sent_at == [
        (60, "+15550111", "[slotstack] DOWN au 1/1"),              # page: alice is on call
        (660, "+15550111", "[slotstack] REMINDER DOWN au 1/1"),    # 10 minutes without ack
        (960, "+15550112", "[slotstack] ESCALATED DOWN au 1/1"),   # escalation to bob after 15 minutes
        (1560, "+15550111", "[slotstack] REMINDER DOWN au 1/1"),   # reminder to both
        (1560, "+15550112", "[slotstack] REMINDER DOWN au 1/1"),
    ]
    assert h.core.ack(1, "bob") is True
    assert h.core.ack(1, "alice") is False
    before = len(provider.requests)
    for _ in range(20):
        h.round(advance=60)
    acked = "[slotstack] ACKED au by bob at 14:32 UTC: 1/1 checks down; escalation stopped."
    assert sms_log(provider)[before:] == [("+15550111", acked), ("+15550112", acked)]  # the ack is news, once
    before = len(provider.requests)  # and then: no more reminders or escalation
    server.behaviour.hang_up = False
    h.round(advance=60)
    h.round(advance=60)
    assert [to for to, _ in sms_log(provider)[before:]] == ["+15550111", "+15550112"]
    recovered = "[slotstack] RECOVERED au after 51m 00s (down since 14:02 UTC)"
    assert [body for _, body in sms_log(provider)[before:]] == [recovered, recovered]
    h.close()


def test_failed_send_is_retried_and_escalation_waits_for_success(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]},
             {"after": "1m", "notify": ["dana"], "channels": ["sms"]}]
    h = Harness(base_config(tmp_path, cell_targets([server], "eu"), {"sms": twilio(provider)}, steps), clock, ENV)
    server.behaviour.status = 500
    provider.status = 500
    h.round(advance=10)
    h.round(advance=5)  # down: page-0 attempted, rejected by the provider
    assert len(provider.requests) == 1
    assert h.metrics.registry.get_sample_value("uptime_notifications_total",
                                               {"channel": "sms", "result": "failure"}) == 1
    h.restart()
    clock.advance(120)  # long past step 1's delay, but step 0 never got through
    h.pager.tick()  # retry (backoff 10s elapsed) still fails
    h.pager.tick()  # backoff not elapsed yet: no request
    assert len(provider.requests) == 2
    provider.status = 201
    clock.advance(20)
    h.pager.tick()  # retry succeeds; only now may escalation move on
    h.pager.tick()
    # two rejected attempts, the accepted one, then the escalation to dana
    assert [to for to, _ in sms_log(provider)] == ["+15550111", "+15550111", "+15550111", "+15550114"]
    assert h.store.value("SELECT notified_step FROM incidents WHERE id = 1") == 1
    h.close()


@pytest.mark.parametrize(
    ("moment", "pages"),
    [
        # DST starts 2026-03-08 02:00 in Los Angeles: 06:30 local is 13:30 UTC (PDT), not 14:30 (PST).
        (dt.datetime(2026, 3, 8, 13, 30, tzinfo=dt.UTC), 0),
        (dt.datetime(2026, 3, 1, 14, 30, tzinfo=dt.UTC), 0),   # a week earlier 06:30 PST is 14:30 UTC
        (dt.datetime(2026, 3, 1, 13, 30, tzinfo=dt.UTC), 1),   # 05:30 PST: before the window
        (dt.datetime(2026, 11, 1, 16, 30, tzinfo=dt.UTC), 0),  # DST ended at 02:00: 08:30 PST, inside
        (dt.datetime(2026, 11, 1, 17, 30, tzinfo=dt.UTC), 1),  # 09:30 PST: after the window
    ],
)
def test_maintenance_window_suppresses_pages_dst_correct(
    tmp_path: Path, http_target: Callable[[], TargetServer], provider: ProviderFake, moment: dt.datetime,
    pages: int,
) -> None:
    clock = FakeClock(moment.timestamp())
    server = http_target()
    window = [{"name": "patching", "cells": ["us"], "timezone": "America/Los_Angeles", "days": ["sunday"],
               "start": "06:00", "end": "09:00"}]
    h = Harness(base_config(tmp_path, cell_targets([server], "us"), {"sms": twilio(provider)},
                            maintenance=window), clock, ENV)
    server.behaviour.status = 503
    h.round(advance=20)
    h.round(advance=20)
    assert len(provider.requests) == pages
    assert h.store.query("SELECT COUNT(*) AS n FROM incidents")[0]["n"] == 1  # recorded either way
    h.close()


def test_outage_outlasting_maintenance_pages_when_the_window_ends(
    tmp_path: Path, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    clock = FakeClock(dt.datetime(2026, 3, 8, 15, 50, tzinfo=dt.UTC).timestamp())  # 08:50 PDT
    server = http_target()
    window = [{"name": "patching", "cells": ["us"], "timezone": "America/Los_Angeles", "days": ["sun"],
               "start": "06:00", "end": "09:00"}]
    h = Harness(base_config(tmp_path, cell_targets([server], "us"), {"sms": twilio(provider)},
                            maintenance=window), clock, ENV)
    server.behaviour.status = 503
    for _ in range(10):  # 08:50 .. 08:59:30 PDT
        h.round(advance=60)
    assert provider.requests == []
    h.round(advance=60)  # 09:00 PDT: the window is over and the cell is still down
    assert [body.split(":")[0] for _, body in sms_log(provider)] == ["[slotstack] DOWN us 1/1 checks since 15"]
    h.close()


def test_silence_suppresses_pages_for_its_cell_only(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    us, eu = http_target(), http_target()
    h = Harness(base_config(tmp_path, cell_targets([us], "us") + cell_targets([eu], "eu"), {"sms": twilio(provider)}),
                clock, ENV)
    h.core.silence("us", clock.now(), clock.now() + 3600, "database upgrade", "alice")
    us.behaviour.status = eu.behaviour.status = 503
    h.round()
    h.round()
    assert [body.split(" checks")[0] for _, body in sms_log(provider)] == ["[slotstack] DOWN eu 1/1"]
    h.close()


def test_step_without_reachable_recipient_does_not_stall_escalation(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    steps = [{"after": "0m", "notify": ["erin"], "channels": ["sms"]},
             {"after": "5m", "notify": ["dana"], "channels": ["sms"]}]
    doc = base_config(tmp_path, cell_targets([server], "eu"), {"sms": twilio(provider)}, steps)
    doc["people"]["erin"] = {"email": "erin@example.com"}  # no phone: the SMS step cannot reach her
    h = Harness(doc, clock, ENV)
    server.behaviour.status = 500
    for _ in range(8):
        h.round(advance=60)
    assert [to for to, _ in sms_log(provider)] == ["+15550114"]
    h.close()


def test_certificate_warning_is_one_email_and_no_sms(
    tmp_path: Path, http_target: Callable[..., TargetServer], provider: ProviderFake,
    smtp: tuple[SmtpSink, int], pki: Pki,
) -> None:
    sink, port = smtp
    # TLS verification uses the real time, so this clock starts now.
    now = dt.datetime.now(dt.UTC)
    clock = FakeClock(now.timestamp())
    server = http_target(pki.leaf("soon", now - dt.timedelta(days=1), now + dt.timedelta(days=10)))
    targets = [{"name": "eu-tls", "cell": "eu", "url": server.url(), "ca_file": str(pki.ca_file)}]
    channels = {"sms": twilio(provider), "mail": {"type": "email", "host": "127.0.0.1", "port": port,
                                                  "starttls": False, "from": "uptime@example.com"}}
    h = Harness(base_config(tmp_path, targets, channels), clock, ENV)
    for _ in range(4):
        h.round()
    assert provider.requests == []  # a certificate warning never pages
    assert len(sink.messages) == 1
    message = email.message_from_bytes(sink.messages[0][2], policy=email.policy.default)
    assert message["Subject"] == "[slotstack] certificate warning: eu-tls"
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "certificate expires in 10.0 days (warning below 21)" in body
    assert h.store.value("SELECT COUNT(*) FROM incidents") == 0
    h.close()
