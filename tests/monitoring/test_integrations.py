"""PagerDuty Events v2, Opsgenie, Slack and Teams: triggered, acknowledged and resolved, success and failure,
each asserted against the exact request an HTTP fake on localhost receives."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from uptime.notify import NotifyError, build

from tests.monitoring.conftest import FakeClock, ProviderFake, TargetServer
from tests.monitoring.helpers import Harness, base_config
from tests.monitoring.test_notifiers import FIRING, RESOLVED, channel
from tests.monitoring.test_paging import cell_targets

ACKED = dataclasses.replace(FIRING, event="ack", acked_by="bob", acked_at=FIRING.since + 60)
KEY = "slotstack/monitor/eu/7"


@pytest.mark.parametrize("status", [202, 400])
def test_pagerduty_trigger_is_the_events_v2_body(provider: ProviderFake, status: int) -> None:
    provider.status = status
    notifier = build(channel("pagerduty", routing_key_env="PD", api_base=provider.url), {"PD": "R0UT1NGKEY"})
    if status == 202:
        notifier.send(FIRING, None)
    else:
        with pytest.raises(NotifyError, match="pagerduty: HTTP 400"):
            notifier.send(FIRING, None)
    (request,) = provider.requests
    assert (request.path, request.headers["Content-Type"]) == ("/v2/enqueue", "application/json")
    body = request.json()
    assert body["payload"].pop("custom_details")["checks"] == ["eu-healthz"]
    assert body == {
        "routing_key": "R0UT1NGKEY", "dedup_key": KEY, "event_action": "trigger",
        "links": [{"href": FIRING.ack_url, "text": "Acknowledge"},
                  {"href": "https://uptime.example.com/status/", "text": "Status page"}],
        "payload": {"summary": "[slotstack] DOWN eu: 3/3 checks failing", "source": "slotstack",
                    "severity": "critical", "timestamp": "2026-03-03T14:02:00+00:00", "component": "eu",
                    "group": "eu", "class": "timeout"},
    }


@pytest.mark.parametrize(("notice", "action"), [(ACKED, "acknowledge"), (RESOLVED, "resolve")])
def test_pagerduty_acknowledges_and_resolves_the_same_alert(provider: ProviderFake, notice: Any,
                                                            action: str) -> None:
    provider.status = 202
    build(channel("pagerduty", routing_key_env="PD", api_base=provider.url), {"PD": "K"}).send(notice, None)
    assert provider.requests[0].json() == {"routing_key": "K", "dedup_key": KEY, "event_action": action}


@pytest.mark.parametrize("status", [202, 422])
def test_opsgenie_creates_an_alert_with_the_genie_key(provider: ProviderFake, status: int) -> None:
    provider.status = status
    notifier = build(channel("opsgenie", api_key_env="OG", api_base=provider.url), {"OG": "og-key"})
    if status == 202:
        notifier.send(FIRING, None)
    else:
        with pytest.raises(NotifyError, match="opsgenie: HTTP 422"):
            notifier.send(FIRING, None)
    (request,) = provider.requests
    assert (request.path, request.headers["Authorization"]) == ("/v2/alerts", "GenieKey og-key")
    body = request.json()
    assert body.pop("description").startswith("[slotstack] DOWN eu: 3/3 checks failing\n\nCell: eu\n")
    assert body == {"message": "[slotstack] DOWN eu: 3/3 checks failing", "alias": KEY, "priority": "P1",
                    "source": "slotstack", "entity": "eu", "tags": ["eu", "page"],
                    "details": {"checks": "eu-healthz", "ack_url": FIRING.ack_url,
                                "status_url": "https://uptime.example.com/status/", "runbook_url": ""}}


@pytest.mark.parametrize(("notice", "path", "user"), [
    (ACKED, "/v2/alerts/slotstack%2Fmonitor%2Feu%2F7/acknowledge?identifierType=alias", "bob"),
    (RESOLVED, "/v2/alerts/slotstack%2Fmonitor%2Feu%2F7/close?identifierType=alias", "slotstack"),
])
def test_opsgenie_acknowledges_and_closes_by_alias(provider: ProviderFake, notice: Any, path: str,
                                                   user: str) -> None:
    provider.status = 202
    build(channel("opsgenie", api_key_env="OG", api_base=provider.url), {"OG": "k"}).send(notice, None)
    (request,) = provider.requests
    assert request.path == path
    assert request.json()["user"] == user


@pytest.mark.parametrize("status", [200, 404])
def test_slack_posts_block_kit_to_the_incoming_webhook(provider: ProviderFake, status: int) -> None:
    provider.status = status
    notifier = build(channel("slack", url_env="SLACK"), {"SLACK": f"{provider.url}/services/T0/B0/x"})
    if status == 200:
        notifier.send(FIRING, None)
    else:
        with pytest.raises(NotifyError, match="slack: HTTP 404"):
            notifier.send(FIRING, None)
    (request,) = provider.requests
    assert request.path == "/services/T0/B0/x"
    assert request.json() == {"text": "[slotstack] DOWN eu: 3/3 checks failing", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "[slotstack] DOWN eu: 3/3 checks failing"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Cell eu: 3 of 3 checks failing, since 2026-03-03 "
                                                               "14:02 UTC\neu-healthz: timeout: no answer within 10s"}},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": FIRING.ack_url},
            {"type": "button", "text": {"type": "plain_text", "text": "Status page"},
             "url": "https://uptime.example.com/status/"}]},
    ]}


@pytest.mark.parametrize("status", [200, 400])
def test_teams_posts_an_adaptive_card(provider: ProviderFake, status: int) -> None:
    provider.status = status
    notifier = build(channel("teams", url_env="TEAMS"), {"TEAMS": f"{provider.url}/webhookb2/abc"})
    if status == 200:
        notifier.send(RESOLVED, None)
    else:
        with pytest.raises(NotifyError, match="teams: HTTP 400"):
            notifier.send(RESOLVED, None)
    (request,) = provider.requests
    card = request.json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert [b["text"] for b in card["content"]["body"]][:2] == [
        "[slotstack] RECOVERED eu after 12m 34s", "Cell eu: 3 of 3 checks that failed, since 2026-03-03 14:02 UTC"]
    assert card["content"]["body"][0]["color"] == "Good"
    assert card["content"]["actions"] == []  # recovered: nothing to acknowledge, and RESOLVED carries no links


def test_integrations_are_routable_per_escalation_step(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
) -> None:
    server = http_target()
    provider.status = 202
    channels = {"pd": {"type": "pagerduty", "routing_key_env": "PD", "api_base": provider.url},
                "chat": {"type": "slack", "url_env": "SLACK"}}
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["chat"]},
             {"after": "5m", "notify": ["oncall"], "channels": ["pd"]}]
    h = Harness(base_config(tmp_path, cell_targets([server], "eu"), channels, steps), clock,
                {"PD": "K", "SLACK": f"{provider.url}/slack"})
    server.behaviour.status = 503
    for _ in range(8):
        h.round(advance=60)
    assert [r.path for r in provider.requests] == ["/slack", "/v2/enqueue"]  # chat first, PagerDuty at 5 min
    h.core.ack(1, "alice")
    h.round(advance=60)
    assert [(r.path, r.json().get("event_action")) for r in provider.requests[2:]] == [
        ("/slack", None), ("/v2/enqueue", "acknowledge")]
    h.close()
