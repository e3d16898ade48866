"""``POST /alertmanager``: an Alertmanager v4 webhook becomes an SMS to the on-call person."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from uptime import alertmanager
from uptime.server import MonitorServer

from tests.monitoring.conftest import FakeClock, ProviderFake
from tests.monitoring.helpers import SID, Harness, base_config


def payload(status: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "groupKey": '{}/{cell="eu"}:{cell="eu"}', "truncatedAlerts": 0, "status": status,
            "receiver": "uptime-sms", "groupLabels": {"cell": "eu"}, "commonLabels": {"cell": "eu"},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "alerts": alerts}


def alert(target: str, status: str = "firing", ends: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": "UptimeTargetDown", "cell": "eu", "target": target,
                                         "severity": "page"},
            "annotations": {"summary": f"{target} fails"}, "startsAt": "2026-03-03T14:02:10.5Z", "endsAt": ends,
            "generatorURL": "http://prometheus/graph", "fingerprint": "abc"}


@pytest.fixture
def endpoint(tmp_path: Path, clock: FakeClock, provider: ProviderFake) -> Iterator[str]:
    targets = [{"name": f"eu-{n}", "cell": "eu", "url": f"http://127.0.0.1:9/{n}"} for n in ("a", "b", "c")]
    channels = {"sms": {"type": "twilio", "account_sid": SID, "auth_token_env": "TW", "from": "+15550100",
                        "api_base": provider.url},
                "mail": {"type": "email", "host": "127.0.0.1", "port": 25, "starttls": False,
                         "from": "u@example.com"}}
    h = Harness(base_config(tmp_path, targets, channels), clock, {"TW": "tok"})
    server = MonitorServer(h.core, h.registry, b"k", tmp_path)
    server.posts["/alertmanager"] = alertmanager.handler(h.config, h.pager.notifiers, h.core)
    server.start()
    yield f"http://127.0.0.1:{server.port}/alertmanager"
    server.stop()
    h.close()


def bodies(provider: ProviderFake) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(r.body.decode()).items()} for r in provider.requests]


def test_firing_then_resolved_group_sends_two_sms(endpoint: str, provider: ProviderFake) -> None:
    firing = requests.post(endpoint, data=json.dumps(payload("firing", [alert("eu-a"), alert("eu-b")])), timeout=5)
    assert firing.json() == {"sent": 1, "cell": "eu", "status": "firing"}
    ends = "2026-03-03T14:14:44.5Z"
    resolved = requests.post(endpoint, data=json.dumps(payload("resolved", [
        alert("eu-a", "resolved", ends), alert("eu-b", "resolved", ends)])), timeout=5)
    assert resolved.status_code == 200
    assert bodies(provider) == [
        {"To": "+15550111", "From": "+15550100",
         "Body": "[slotstack] DOWN eu 2/3 checks since 14:02 UTC: UptimeTargetDown."},
        {"To": "+15550111", "From": "+15550100",
         "Body": "[slotstack] RECOVERED eu after 12m 34s (down since 14:02 UTC)"},
    ]


def test_provider_failure_makes_alertmanager_retry(endpoint: str, provider: ProviderFake) -> None:
    provider.status = 500
    reply = requests.post(endpoint, data=json.dumps(payload("firing", [alert("eu-a")])), timeout=5)
    assert reply.status_code == 502
    assert "twilio: HTTP 500" in reply.json()["error"]


@pytest.mark.parametrize(("body", "reason"), [
    ({"version": "4", "status": "firing", "alerts": []}, "alerts must be a non-empty list"),
    ({"version": "4", "status": "pending", "alerts": [{}]}, "status 'pending' is not 'firing' or 'resolved'"),
    (payload("firing", [{**alert("eu-a"), "startsAt": "yesterday"}]), "alerts[0].startsAt 'yesterday' is not"),
])
def test_malformed_payloads_are_400_with_a_reason(endpoint: str, body: dict[str, Any], reason: str) -> None:
    reply = requests.post(endpoint, data=json.dumps(body), timeout=5)
    assert reply.status_code == 400
    assert reason in reply.json()["error"]
