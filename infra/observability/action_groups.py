"""Who gets told: one action group that pages (SMS + email) and one that emails, per environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor

from infra.environment import Receiver
from infra.observability.catalog import NOTIFY, PAGE
from infra.observability.phones import split_e164
from infra.secrets import reveal

# Action groups are global by Azure's design; they hold on-call staff contacts, no customer data.
LOCATION = "global"
SHORT_NAME_MAX = 12
# What SMS and emails show as the sender; "notify" would not fit in 12 characters with "staging".
SHORT_CHANNEL = {PAGE: "page", NOTIFY: "mail"}


@dataclass
class ActionGroupsArgs:
    """Inputs of `OnCallActionGroups`."""

    resource_group_name: pulumi.Input[str]
    """Resource group holding the environment-wide monitoring resources."""
    name_prefix: str
    """Prefix of the group names, e.g. `ag-slotstack-prod`."""
    short_name_prefix: str
    """At most 7 characters (Azure allows 12 in total); SMS and emails show it, e.g. `prod`."""
    receivers: Sequence[Receiver]
    """`env.oncall.receivers`: everyone is emailed; everyone with a phone is also paged by SMS."""
    tags: Mapping[str, str]
    """Environment tags."""


def _slug(name: str) -> str:
    """A receiver name Azure accepts and a human recognizes: 'Ada Primary' -> 'ada-primary'."""
    return "-".join(name.lower().split())


def email_receivers(receivers: Sequence[Receiver]) -> list[monitor.MicrosoftCommonEmailReceiverArgsDict]:
    """Every receiver's email, with the common alert schema."""
    return [{"name": f"{_slug(r.name)}-email", "email_address": r.email, "use_common_alert_schema": True}
            for r in receivers]


def sms_receivers(receivers: Sequence[Receiver]) -> list[monitor.MicrosoftCommonSmsReceiverArgsDict]:
    """One SMS receiver per receiver with a phone; secret phones stay secret Outputs."""
    result: list[monitor.MicrosoftCommonSmsReceiverArgsDict] = []
    for r in receivers:
        if r.phone is None:
            continue
        parts = pulumi.Output.from_input(reveal(r.phone)).apply(split_e164)
        result.append({"name": f"{_slug(r.name)}-sms", "country_code": parts.apply(lambda p: p[0]),
                       "phone_number": parts.apply(lambda p: p[1])})
    return result


class OnCallActionGroups(pulumi.ComponentResource):
    """`page` (Sev0/1: SMS + email) and `notify` (Sev2-4: email) action groups of an environment."""

    ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ActionGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:OnCallActionGroups", name, None, opts)
        if not args.receivers:
            raise ValueError(f"{name}: oncall.receivers is empty; nobody would be told about an outage")
        if len(args.short_name_prefix) > SHORT_NAME_MAX - len("-mail"):
            raise ValueError(f"{name}: short_name_prefix {args.short_name_prefix!r} is too long; Azure allows "
                             f"{SHORT_NAME_MAX} characters for '<prefix>-mail', so at most 7 for the prefix")
        child = pulumi.ResourceOptions(parent=self)
        self.ids = {}
        for channel, sms in ((PAGE, True), (NOTIFY, False)):
            group = monitor.ActionGroup(
                f"{name}-{channel}",
                action_group_name=f"{args.name_prefix}-{channel}",
                group_short_name=f"{args.short_name_prefix}-{SHORT_CHANNEL[channel]}",
                resource_group_name=args.resource_group_name,
                location=LOCATION,
                enabled=True,
                email_receivers=email_receivers(args.receivers),
                sms_receivers=sms_receivers(args.receivers) if sms else [],
                tags=dict(args.tags),
                opts=child,
            )
            self.ids[channel] = group.id
        self.register_outputs({"ids": self.ids})
