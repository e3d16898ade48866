"""WAF attached to every Application Gateway, in Prevention mode with the managed rule sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import as_list, dig

NAME = "waf-prevention-with-managed-rules"
DESCRIPTION = ("Application Gateways run the WAF_v2 SKU with a WAF policy attached; WAF policies are enabled, "
               "in Prevention mode, inspect request bodies and use Microsoft_DefaultRuleSet >= 2.1 and "
               "Microsoft_BotManagerRuleSet.")
GATEWAY = "azure-native:network:ApplicationGateway"
WAF_POLICY = "azure-native:network:WebApplicationFirewallPolicy"
DEFAULT_RULE_SET = "Microsoft_DefaultRuleSet"
BOT_RULE_SET = "Microsoft_BotManagerRuleSet"
MIN_DEFAULT_VERSION = (2, 1)


def _version(value: Any) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(value).split("."))
    except ValueError:
        return ()


def _gateway(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if dig(props, "sku.tier") != "WAF_v2":
        problems.append(f"sku.tier is {dig(props, 'sku.tier')!r}: without the WAF_v2 tier no WAF inspects "
                        "traffic; set sku name and tier to WAF_v2")
    if not dig(props, "firewallPolicy.id"):
        problems.append("no WAF policy is attached: set firewallPolicy.id to the cell's "
                        "WebApplicationFirewallPolicy so requests are inspected")
    return problems


def _waf_policy(props: Mapping[str, Any]) -> list[str]:
    problems = []
    mode, state = dig(props, "policySettings.mode"), dig(props, "policySettings.state")
    if mode != "Prevention":
        problems.append(f"policySettings.mode is {mode!r}: Detection only logs attacks; set mode to Prevention "
                        "so the WAF blocks them")
    if state != "Enabled":
        problems.append(f"policySettings.state is {state!r}: a disabled WAF inspects nothing; set state Enabled")
    if dig(props, "policySettings.requestBodyCheck") is not True:
        problems.append("policySettings.requestBodyCheck is not true: injection in request bodies would pass; "
                        "enable request-body inspection")
    sets = {str(s.get("ruleSetType")): s.get("ruleSetVersion")
            for s in as_list(dig(props, "managedRules.managedRuleSets")) if isinstance(s, Mapping)}
    if DEFAULT_RULE_SET not in sets:
        problems.append(f"managed rule set {DEFAULT_RULE_SET} is missing: add it (version 2.1) to "
                        "managedRules.managedRuleSets for OWASP protection")
    elif _version(sets[DEFAULT_RULE_SET]) < MIN_DEFAULT_VERSION:
        problems.append(f"{DEFAULT_RULE_SET} version {sets[DEFAULT_RULE_SET]!r} is older than 2.1; use 2.1")
    if BOT_RULE_SET not in sets:
        problems.append(f"managed rule set {BOT_RULE_SET} is missing: add it to managedRules.managedRuleSets "
                        "to block known bad bots")
    return problems


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    if type_ == GATEWAY:
        return _gateway(props)
    if type_ == WAF_POLICY:
        return _waf_policy(props)
    return []
