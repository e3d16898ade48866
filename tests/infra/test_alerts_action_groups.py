"""Who gets told: the action groups hold every on-call receiver of the environment and no one else."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config

from infra import environment
from infra.environment import Receiver
from infra.mocks import Plan, evaluate
from infra.observability.action_groups import ActionGroupsArgs, OnCallActionGroups
from infra.observability.phones import split_e164
from infra.schema import Secret
from tests.plans import ENVIRONMENTS, EXTRA_RECEIVER

SECRET_SIG = rpc._special_sig_key


@pytest.fixture(scope="module")
def plans(plan_of: Callable[[str], Plan]) -> dict[str, tuple[environment.Environment, Plan]]:
    return {name: (environment.load(name), plan_of(name)) for name in ENVIRONMENTS}


def _groups(plan: Plan) -> dict[str, dict]:
    return {r.name.removeprefix("oncall-"): r.inputs for r in plan.of_type("azure-native:monitor:ActionGroup")}


def test_one_paging_and_one_email_group_per_environment(plans) -> None:
    for name, (_env, plan) in plans.items():
        groups = _groups(plan)
        assert set(groups) == {"page", "notify"}, f"{name}: action groups {set(groups)}"
        for channel, group in groups.items():
            assert group["location"] == "global", f"{name}/{channel}: action groups are global resources"
            assert len(group["groupShortName"]) <= 12, f"{name}/{channel}: Azure caps short names at 12"
            assert group["actionGroupName"] == f"ag-slotstack-{name}-{channel}"


def test_every_receiver_is_emailed_with_the_common_alert_schema_and_no_one_else(plans) -> None:
    for name, (env, plan) in plans.items():
        expected = sorted(r.email for r in env.oncall.receivers)
        for channel, group in _groups(plan).items():
            emails = group["emailReceivers"]
            assert sorted(e["emailAddress"] for e in emails) == expected, f"{name}/{channel}: email receivers"
            assert all(e["useCommonAlertSchema"] is True for e in emails), f"{name}/{channel}: common schema off"
            assert len({e["name"] for e in emails}) == len(emails), f"{name}/{channel}: receiver names collide"


def test_sms_goes_to_every_phone_on_the_paging_group_only(plans) -> None:
    for name, (env, plan) in plans.items():
        groups = _groups(plan)
        phones = sorted(str(r.phone) for r in env.oncall.receivers if r.phone is not None)
        sms = sorted(f"+{s['countryCode']}{s['phoneNumber']}" for s in groups["page"]["smsReceivers"])
        assert sms == phones, f"{name}: SMS receivers {sms} != on-call phones {phones}"
        assert groups["notify"]["smsReceivers"] == [], f"{name}: the email-only group must not send SMS"
    # dev has one receiver without a phone: nobody to text, still emailed.
    assert _groups(plans["dev"][1])["page"]["smsReceivers"] == []


@pytest.mark.parametrize(("phone", "expected"), [
    ("+15550100", ("1", "5550100")),
    ("+61412345678", ("61", "412345678")),
    ("+4915112345678", ("49", "15112345678")),
    ("+353861234567", ("353", "861234567")),
    ("+74951234567", ("7", "4951234567")),
    ("+8613800138000", ("86", "13800138000")),
])
def test_e164_splits_into_country_code_and_number(phone: str, expected: tuple[str, str]) -> None:
    assert split_e164(phone) == expected


@pytest.mark.parametrize(("phone", "message"), [
    ("5550100", "not in E.164 form; write it like \\+15550100"),
    ("+1 555 0100", "not in E.164 form"),
    ("+2812345678", "starts with \\+28, which is no country's code"),
])
def test_bad_phone_numbers_are_refused_with_the_form_expected(phone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_e164(phone)


def test_a_secret_phone_is_revealed_by_the_engine_and_split() -> None:
    oncall = {"receivers": [{"name": "Ada Primary", "email": "ada@example.com", "phone": "+61412345678"}]}
    set_all_config({"slotstack:oncall": json.dumps(oncall)}, ["slotstack:oncall"])
    try:
        receiver = Receiver("Ada Primary", "ada@example.com", Secret("v1:abc", "oncall.receivers[0].phone"))
        plan = evaluate("prod", lambda: OnCallActionGroups("oncall", ActionGroupsArgs(
            "rg", "ag-test", "prod", [receiver], {})))
    finally:
        set_all_config({}, [])
    sms = plan.named("oncall-page").inputs["smsReceivers"]
    # The engine must keep the number secret in state: it arrives wrapped as a secret value.
    assert isinstance(sms, dict), f"phone leaked: {sms}"
    assert sms.get(SECRET_SIG) == rpc._special_secret_sig, f"phone leaked: {sms}"
    assert sms["value"] == [{"name": "ada-primary-sms", "countryCode": "61", "phoneNumber": "412345678"}]


def test_no_receivers_is_refused() -> None:
    with pytest.raises(ValueError, match=r"oncall\.receivers is empty; nobody would be told"):
        evaluate("dev", lambda: OnCallActionGroups("oncall", ActionGroupsArgs("rg", "ag", "dev", [], {})))


def test_a_short_name_prefix_azure_would_truncate_is_refused() -> None:
    env = environment.load("staging")
    with pytest.raises(ValueError, match="short_name_prefix 'staging1' is too long"):
        evaluate("staging", lambda: OnCallActionGroups("oncall", ActionGroupsArgs(
            "rg", "ag", "staging1", env.oncall.receivers, {})))


def test_a_receiver_added_to_the_environment_is_paged(changed_prod: tuple[environment.Environment, Plan]) -> None:
    env, plan = changed_prod
    assert EXTRA_RECEIVER in env.oncall.receivers
    page = _groups(plan)["page"]
    assert {"name": "dee-third-sms", "countryCode": "44", "phoneNumber": "7700900123"} in page["smsReceivers"]
    assert "dee@example.com" in {e["emailAddress"] for e in page["emailReceivers"]}
