"""``POST /alertmanager``: an authenticated Alertmanager v4 webhook becomes an SMS to the on-call person, once,
unless the cell is silenced or in a maintenance window; the SMS carries an acknowledgement link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from uptime import alertmanager, tokens
from uptime.server import MonitorServer

from tests.monitoring.conftest import FakeClock, ProviderFake
from tests.monitoring.helpers import SID, Harness, base_config


def payload(status: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "groupKey": '{}/{cell="eu"}:{cell="eu"}', "truncatedAlerts": 0, "status": status,
            "receiver": "uptime-sms", "groupLabels": {"cell": "eu"}, "commonLabels": {"cell": "eu"},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "alerts": alerts}


def alert(target: str, status: str = "firing", ends: str = "0001-01-01T00:00:00Z",
          fingerprint: str = "abc") -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": "UptimeTargetDown", "cell": "eu", "target": target,
                                         "severity": "page"},
            "annotations": {"summary": f"{target} fails"}, "startsAt": "2026-03-03T14:02:10.5Z", "endsAt": ends,
            "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint}


TOKEN = "am-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACK = f"https://uptime.example.com/ack/{tokens.sign(1, b'k', 'am')}"


@pytest.fixture
def harness(tmp_path: Path, clock: FakeClock, provider: ProviderFake) -> Iterator[Harness]:
    targets = [{"name": f"eu-{n}", "cell": "eu", "url": f"http://127.0.0.1:9/{n}"} for n in ("a", "b", "c")]
    channels = {"sms": {"type": "twilio", "account_sid": SID, "auth_token_env": "TW", "from": "+15550100",
                        "api_base": provider.url},
                "mail": {"type": "email", "host": "127.0.0.1", "port": 25, "starttls": False,
                         "from": "u@example.com"}}
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]},
             {"after": "15m", "notify": ["oncall_next"], "channels": ["sms"]}]
    h = Harness(base_config(tmp_path, targets, channels, steps), clock, {"TW": "tok"})
    yield h
    h.close()


def serve(h: Harness, environ: dict[str, str]) -> MonitorServer:
    server = MonitorServer(h.core, h.registry, b"k", h.config.monitor.status_dir)
    alertmanager.Receiver(h.config, h.pager.notifiers, h.core, b"k", environ).install(server)
    return server.start()


@pytest.fixture
def endpoint(harness: Harness) -> Iterator[str]:
    server = serve(harness, {"UPTIME_ALERTMANAGER_TOKEN": TOKEN})
    yield f"http://127.0.0.1:{server.port}/alertmanager"
    server.stop()


def post(endpoint: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(endpoint, data=json.dumps(body), headers=AUTH if headers is None else headers, timeout=5)


def bodies(provider: ProviderFake) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(r.body.decode()).items()} for r in provider.requests]


def test_firing_then_resolved_group_sends_two_sms(endpoint: str, provider: ProviderFake) -> None:
    firing = post(endpoint, payload("firing", [alert("eu-a"), alert("eu-b", fingerprint="def")]))
    assert firing.json() == {"sent": 1, "cell": "eu", "status": "firing", "alert_group": 1}
    ends = "2026-03-03T14:14:44.5Z"
    resolved = post(endpoint, payload("resolved", [alert("eu-a", "resolved", ends),
                                                   alert("eu-b", "resolved", ends, fingerprint="def")]))
    assert resolved.status_code == 200
    assert bodies(provider) == [
        {"To": "+15550111", "From": "+15550100",
         "Body": f"[slotstack] DOWN eu 2/3 checks since 14:02 UTC: eu-a, eu-b: UptimeTargetDown. Ack: {ACK}"},
        {"To": "+15550111", "From": "+15550100",
         "Body": "[slotstack] RECOVERED eu after 12m 34s (down since 14:02 UTC)"},
    ]


def test_provider_failure_makes_alertmanager_retry(endpoint: str, provider: ProviderFake) -> None:
    provider.status = 500
    reply = post(endpoint, payload("firing", [alert("eu-a")]))
    assert reply.status_code == 502
    assert "twilio: HTTP 500" in reply.json()["error"]


@pytest.mark.parametrize(("body", "reason"), [
    ({"version": "4", "status": "firing", "alerts": []}, "alerts must be a non-empty list"),
    ({"version": "4", "status": "pending", "alerts": [{}]}, "status 'pending' is not 'firing' or 'resolved'"),
    (payload("firing", [{**alert("eu-a"), "startsAt": "yesterday"}]), "alerts[0].startsAt 'yesterday' is not"),
])
def test_malformed_payloads_are_400_with_a_reason(endpoint: str, body: dict[str, Any], reason: str) -> None:
    reply = post(endpoint, body)
    assert reply.status_code == 400
    assert reason in reply.json()["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": TOKEN}])
def test_a_request_without_the_bearer_token_sends_nothing(
    endpoint: str, provider: ProviderFake, headers: dict[str, str],
) -> None:
    reply = post(endpoint, payload("firing", [alert("eu-a")]), headers)
    assert reply.status_code == 401
    assert "UPTIME_ALERTMANAGER_TOKEN" in reply.json()["error"]
    assert provider.requests == []


def test_the_endpoint_is_closed_until_a_token_is_configured(harness: Harness, provider: ProviderFake) -> None:
    server = serve(harness, {})
    try:
        reply = post(f"http://127.0.0.1:{server.port}/alertmanager", payload("firing", [alert("eu-a")]))
    finally:
        server.stop()
    assert reply.status_code == 403
    assert reply.json()["error"].startswith(
        "the /alertmanager endpoint is closed: UPTIME_ALERTMANAGER_TOKEN is not set")
    assert provider.requests == []


def test_repeats_and_retries_of_a_delivered_group_are_sent_once(endpoint: str, provider: ProviderFake) -> None:
    first = payload("firing", [alert("eu-a")])
    assert post(endpoint, first).json()["sent"] == 1
    assert post(endpoint, first).json() == {"sent": 0, "cell": "eu", "status": "firing", "duplicate": True}
    worse = post(endpoint, payload("firing", [alert("eu-a"), alert("eu-b", fingerprint="def")]))
    assert worse.json()["sent"] == 1  # a new alert in the group is news
    ends = "2026-03-03T14:14:44.5Z"
    done = payload("resolved", [alert("eu-a", "resolved", ends), alert("eu-b", "resolved", ends, "def")])
    assert post(endpoint, done).json()["sent"] == 1
    assert post(endpoint, done).json()["sent"] == 0
    assert [b["Body"].split(" checks")[0].split(" after")[0] for b in bodies(provider)] == [
        "[slotstack] DOWN eu 1/3", "[slotstack] DOWN eu 2/3", "[slotstack] RECOVERED eu"]


def test_silences_and_maintenance_windows_are_honoured(
    harness: Harness, endpoint: str, provider: ProviderFake, clock: FakeClock,
) -> None:
    harness.core.silence("eu", clock.now() - 60, clock.now() + 600, "failover drill", "alice")
    reply = post(endpoint, payload("firing", [alert("eu-a")]))
    assert reply.json() == {"sent": 0, "cell": "eu", "status": "firing", "suppressed": "silence: failover drill"}
    assert provider.requests == []
    clock.advance(601)  # the silence is over and Alertmanager repeats the group: now it pages
    assert post(endpoint, payload("firing", [alert("eu-a")])).json()["sent"] == 1


def test_the_ack_link_acknowledges_the_alert_group(endpoint: str, provider: ProviderFake) -> None:
    post(endpoint, payload("firing", [alert("eu-a")]))
    base = endpoint.removesuffix("/alertmanager")
    assert bodies(provider)[0]["Body"].endswith(f" Ack: {ACK}")
    page = requests.get(base + ACK.removeprefix("https://uptime.example.com"), timeout=5)
    assert "Alert group 1" in page.text
    acked = requests.post(base + ACK.removeprefix("https://uptime.example.com"), data={"by": "alice"}, timeout=5)
    assert acked.json() == {"alert_group": 1, "acknowledged": True, "already": False}
    forged = requests.post(f"{base}/ack/am1.AAAAAAAAAAAAAAAAAAAAAA", data={"by": "mallory"}, timeout=5)
    assert forged.status_code == 403
    post(endpoint, payload("firing", [alert("eu-a"), alert("eu-b", fingerprint="def")]))
    assert bodies(provider)[1]["Body"] == ("[slotstack] DOWN eu 2/3 checks since 14:02 UTC: eu-a, eu-b: "
                                           "UptimeTargetDown. Runbook: https://example.com/runbook")


def test_later_escalation_steps_page_the_next_person_until_acknowledged(
    endpoint: str, provider: ProviderFake,
) -> None:
    step1 = endpoint + "/step-1"
    firing = payload("firing", [alert("eu-a")])
    assert post(endpoint, firing).json()["sent"] == 1
    assert post(step1, firing).json()["sent"] == 1  # Alertmanager calls step 1 after its group_wait (15m)
    assert [(b["To"], b["Body"].split(" checks")[0]) for b in bodies(provider)] == [
        ("+15550111", "[slotstack] DOWN eu 1/3"), ("+15550112", "[slotstack] ESCALATED DOWN eu 1/3")]
    ends = "2026-03-03T14:14:44.5Z"
    done = payload("resolved", [alert("eu-a", "resolved", ends)])
    assert post(endpoint, done).json()["sent"] == 1
    assert post(step1, done).json()["sent"] == 1  # both steps hear the recovery, once each
    assert post(step1, done).json()["sent"] == 0
    assert [b["To"] for b in bodies(provider)[2:]] == ["+15550111", "+15550112"]


def test_an_acknowledged_group_does_not_escalate(endpoint: str, provider: ProviderFake) -> None:
    post(endpoint, payload("firing", [alert("eu-a")]))
    base = endpoint.removesuffix("/alertmanager")
    requests.post(base + ACK.removeprefix("https://uptime.example.com"), data={"by": "alice"}, timeout=5)
    reply = post(endpoint + "/step-1", payload("firing", [alert("eu-a")]))
    assert reply.json() == {"sent": 0, "cell": "eu", "status": "firing", "acknowledged_by": "alice"}
    assert len(provider.requests) == 1


def test_alertmanager_repeats_become_reminders_until_acknowledged(
    tmp_path: Path, clock: FakeClock, provider: ProviderFake,
) -> None:
    channels = {"sms": {"type": "twilio", "account_sid": SID, "auth_token_env": "TW", "from": "+15550100",
                        "api_base": provider.url}}
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms"]}]
    doc = base_config(tmp_path, [{"name": "eu-a", "cell": "eu", "url": "http://127.0.0.1:9/"}], channels, steps,
                      escalation={"steps": steps, "reminder_every": "10m"})
    h = Harness(doc, clock, {"TW": "tok"})
    server = serve(h, {"UPTIME_ALERTMANAGER_TOKEN": TOKEN})
    url = f"http://127.0.0.1:{server.port}/alertmanager"
    try:
        firing = payload("firing", [alert("eu-a")])
        post(url, firing)
        clock.advance(60)
        assert post(url, firing).json()["duplicate"] is True  # a retry, not a reminder
        clock.advance(600)  # Alertmanager's repeat_interval (the export sets it to reminder_every)
        assert post(url, firing).json()["sent"] == 1
        base = url.removesuffix("/alertmanager")
        requests.post(base + ACK.removeprefix("https://uptime.example.com"), data={"by": "alice"}, timeout=5)
        clock.advance(600)
        assert post(url, firing).json()["duplicate"] is True  # acknowledged: no more reminders
        assert [b["Body"].split(" eu")[0] for b in bodies(provider)] == [
            "[slotstack] DOWN", "[slotstack] REMINDER DOWN"]
    finally:
        server.stop()
        h.close()
