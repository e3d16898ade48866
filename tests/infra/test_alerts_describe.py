"""`describe_alerts`: what `slotstack plan` lists is exactly what the program deploys, and who it reaches."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.environment import Environment, load
from infra.mocks import Plan
from infra.observability.describe import describe_alerts, format_alerts
from tests.plans import ENVIRONMENTS


@pytest.fixture(scope="module")
def plans(plan_of: Callable[[str], Plan]) -> dict[str, tuple[Environment, Plan]]:
    return {name: (load(name), plan_of(name)) for name in ENVIRONMENTS}


def _deployed(plan: Plan) -> dict[tuple[str, str], tuple[int, str]]:
    """(cell, alert) -> (severity, channel of its action group), from the recorded rules."""
    channels = {r.id: r.name.removeprefix("oncall-") for r in plan.of_type("azure-native:monitor:ActionGroup")}
    deployed = {}
    for rule in [*plan.of_type("azure-native:monitor:MetricAlert"),
                 *plan.of_type("azure-native:monitor:ScheduledQueryRule")]:
        cell, _, key = rule.name.partition("-obs-alerts-")
        actions = rule.inputs["actions"]
        ids = actions["actionGroups"] if isinstance(actions, dict) else [a["actionGroupId"] for a in actions]
        deployed[(cell, key)] = (rule.inputs["severity"], channels[ids[0]])
    return deployed


def test_described_alerts_are_the_deployed_alerts(plans) -> None:
    for name, (env, plan) in plans.items():
        described = {(row["cell"], row["alert"]): (row["severity"], row["channel"]) for row in describe_alerts(env)}
        assert described == _deployed(plan), f"{name}: plan listing and deployed rules differ"


def test_each_alert_lists_every_receiver_and_sms_only_when_it_pages(plans) -> None:
    for name, (env, _plan) in plans.items():
        for row in describe_alerts(env):
            names = [r["name"] for r in row["receivers"]]
            assert names == [r.name for r in env.oncall.receivers], f"{name}: {row['alert']} receivers"
            for receiver, person in zip(row["receivers"], env.oncall.receivers, strict=True):
                assert receiver["email"] == person.email
                assert receiver["sms"] is (row["channel"] == "page" and person.phone is not None), row["alert"]


def test_the_listing_never_shows_a_phone_number(plans) -> None:
    env, _plan = plans["prod"]
    text = format_alerts(describe_alerts(env)) + repr(describe_alerts(env))
    for receiver in env.oncall.receivers:
        assert str(receiver.phone) not in text


def test_text_listing_names_cell_severity_condition_and_channels(plans) -> None:
    env, _plan = plans["staging"]
    lines = format_alerts(describe_alerts(env)).splitlines()
    assert len(lines) == 20
    healthz = next(line for line in lines if line.startswith("eu") and "availability-healthz" in line)
    assert "Sev0" in healthz
    assert ">= 3 of 5 locations" in healthz
    assert "Ada Primary (sms+email)" in healthz
    assert "Ben Secondary (email)" in healthz
    cpu = next(line for line in lines if line.startswith("us") and "db-cpu" in line)
    assert "Ada Primary (email)" in cpu
    assert "sms" not in cpu


def test_every_alert_has_an_on_call_section_with_its_severity_and_channel(plans) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "on-call.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### ([a-z0-9-]+)\n\n\*\*(Sev\d, (?:pages|email))\.\*\*", text, re.MULTILINE))
    for name, (env, _plan) in plans.items():
        for row in describe_alerts(env):
            # Rule descriptions link to on-call.md#<alert>; the section must exist and agree on the channel.
            channel = "pages" if row["channel"] == "page" else "email"
            assert sections.get(row["alert"]) == f"Sev{row['severity']}, {channel}", (
                f"{name}: on-call.md has no matching section for {row['alert']} (Sev{row['severity']}, {channel})")
