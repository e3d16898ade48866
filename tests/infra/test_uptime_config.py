"""The monitor's configuration: the local stack and the AWS deployment probe and page alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from infra import environment, uptime_config
from infra.environment import Environment
from infra.local.lifecycle import monitor_config, ports
from infra.local.paths import StateDir
from infra.uptime_aws import config as aws_config

COMMITTED = ("dev", "staging", "prod", "local")


def _local(env: Environment, tmp_path: Path) -> dict[str, Any]:
    return monitor_config.build(env, ports.plan(env, 41000), StateDir.at(tmp_path / "state"))


def _aws(env: Environment) -> dict[str, Any]:
    site = aws_config.site(env, public_url="https://status.example.com", locations=[env.monitor.core_region],
                           sns_region=env.monitor.core_region)
    return uptime_config.document(env, site)


def _checks(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets without their URLs (which differ by design: local ports vs public hostnames)."""
    return [{k: v for k, v in target.items() if k != "url"} for target in document["targets"]]


@pytest.mark.parametrize("name", COMMITTED)
def test_local_and_aws_page_the_same_people_with_the_same_escalation(name: str, tmp_path: Path) -> None:
    env = environment.load(name)
    local, aws = _local(env, tmp_path), _aws(env)
    assert local["people"] == aws["people"], "a local drill must page the people the real monitor pages"
    assert local["escalation"] == aws["escalation"], "a local drill must rehearse the real escalation"
    assert _checks(local) == _checks(aws), "a local drill must run the checks the real monitor runs"


def test_escalation_is_the_environments_steps_in_order() -> None:
    env = environment.load("prod")
    escalation = _aws(env)["escalation"]
    assert [(s["after"], s["notify"]) for s in escalation["steps"]] == [
        ("0m", ["ada-primary"]), ("10m", ["ben-secondary"]), ("25m", ["cleo-lead"])]
    assert {tuple(s["channels"]) for s in escalation["steps"]} == {("sms", "email")}
    assert escalation["reminder_every"] == f"{env.oncall.repeat_minutes}m"
    assert set(_aws(env)["people"]) == {"ada-primary", "ben-secondary", "cleo-lead"}


def test_local_escalation_pages_every_receiver_of_the_local_environment(tmp_path: Path) -> None:
    env = environment.load("local")
    document = _local(env, tmp_path)
    assert document["people"] == {"local-on-call": {"email": "oncall@example.com", "phone": "+15550199"}}
    assert document["escalation"]["steps"] == [{"after": "0m", "notify": ["local-on-call"],
                                                "channels": ["sms", "email"]}]


def test_local_runbook_link_points_at_the_drills_runbook(tmp_path: Path) -> None:
    link = _local(environment.load("local"), tmp_path)["monitor"]["runbook_url"]
    assert Path(urlparse(link).path).is_file(), f"{link} is not a file of this checkout"
