"""infra/__main__.py is what `pulumi up` runs: the stack name picks the environment file."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi
import pytest

from infra import mocks
from infra.compute import settings
from infra.compute.settings import Wheel

MAIN = Path(__file__).resolve().parents[2] / "infra" / "__main__.py"


@pytest.fixture
def wheels(monkeypatch: pytest.MonkeyPatch, fixture_wheel: Wheel, fixture_uptime_wheel: Path) -> None:
    # `pulumi up` takes the newest wheels from dist/ (building them if missing); here, the fixtures.
    monkeypatch.setattr(settings, "find_wheel", lambda: fixture_wheel)
    monkeypatch.setattr(settings, "find_uptime_wheel", lambda: fixture_uptime_wheel)


def test_pulumi_up_of_stack_dev_declares_the_dev_environment(wheels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.plans import TEST_SSH_KEY

    monkeypatch.setenv(settings.SSH_KEY_ENV, TEST_SSH_KEY)
    plan = mocks.evaluate("dev", lambda: runpy.run_path(str(MAIN), run_name="__main__") and None)
    groups = {g.inputs["resourceGroupName"] for g in plan.of_type("azure-native:resources:ResourceGroup")}
    assert groups == {"rg-slotstack-dev-us-eastus2", "rg-slotstack-dev-us-centralus", "rg-slotstack-dev-shared"}
    assert plan.of_type("aws:ec2/instance:Instance"), "the monitor is deployed with the stack"


def test_pulumi_up_without_an_ssh_key_says_what_to_set(wheels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.SSH_KEY_ENV, raising=False)
    with pytest.raises(pulumi.RunError, match="no admin SSH public key; set SLOTSTACK_SSH_PUBLIC_KEY"):
        mocks.evaluate("dev", lambda: runpy.run_path(str(MAIN), run_name="__main__") and None)


def test_pulumi_up_of_an_unknown_stack_plans_nothing(wheels: None) -> None:
    with pytest.raises(pulumi.RunError, match="environment is invalid; nothing was planned") as info:
        mocks.evaluate("qa", lambda: runpy.run_path(str(MAIN), run_name="__main__") and None)
    assert "no such environment file" in str(info.value)
