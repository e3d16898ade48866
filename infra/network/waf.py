"""WafPolicy: the gateway's WAF policy, a separate resource so that rules change without touching the gateway."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

MANAGED_RULE_SETS = (("Microsoft_DefaultRuleSet", "2.1"), ("Microsoft_BotManagerRuleSet", "1.1"))
# What the WAF must never write into its logs: credentials and session tokens.
SCRUBBED: tuple[tuple[str, str], ...] = (
    ("RequestHeaderNames", "Authorization"),
    ("RequestHeaderNames", "Cookie"),
    ("RequestCookieNames", "session"),
    ("RequestArgNames", "token"),
    ("RequestPostArgNames", "password"),
    ("RequestJSONArgNames", "password"),
)


@dataclass
class WafPolicyArgs:
    """Inputs of a WAF policy."""

    policy_name: str
    """Name of the policy in its resource group."""
    resource_group_name: pulumi.Input[str]
    """Resource group of the gateway."""
    location: str
    """Azure region of the gateway."""
    rate_limit_per_minute: int
    """Requests per minute one client IP may send before it is blocked for the rest of the minute."""
    tags: dict[str, str]
    """Cell tags."""


def rate_limit_rule(threshold: int) -> network.WebApplicationFirewallCustomRuleArgsDict:
    """Block a client IP that sends more than `threshold` requests in a minute."""
    return {
        "name": "RateLimitPerClientIp",
        "priority": 10,
        "rule_type": "RateLimitRule",
        "action": "Block",
        "state": "Enabled",
        "rate_limit_duration": "OneMin",
        "rate_limit_threshold": threshold,
        "group_by_user_session": [{"group_by_variables": [{"variable_name": "ClientAddr"}]}],
        # A rate-limit rule needs a match condition; "not from 255.255.255.255" matches every request.
        "match_conditions": [{
            "match_variables": [{"variable_name": "RemoteAddr"}],
            "operator": "IPMatch",
            "negation_conditon": True,  # sic: the ARM property is spelled this way
            "match_values": ["255.255.255.255/32"],
        }],
    }


class WafPolicy(pulumi.ComponentResource):
    """Prevention mode, OWASP-based default and bot-manager rule sets, body inspection, rate limit, scrubbing.

    Attributes: `policy`, `id`.
    """

    def __init__(self, name: str, args: WafPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:network:WafPolicy", name, None, opts)
        self.policy = network.WebApplicationFirewallPolicy(
            f"{name}-policy",
            policy_name=args.policy_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            policy_settings={
                "state": "Enabled",
                "mode": "Prevention",
                "request_body_check": True,
                "request_body_enforcement": True,
                "request_body_inspect_limit_in_kb": 128,
                "max_request_body_size_in_kb": 1024,
                "file_upload_enforcement": True,
                "file_upload_limit_in_mb": 10,
                "log_scrubbing": {
                    "state": "Enabled",
                    "scrubbing_rules": [{"match_variable": variable, "selector_match_operator": "Equals",
                                         "selector": selector, "state": "Enabled"} for variable, selector in SCRUBBED],
                },
            },
            managed_rules={
                "managed_rule_sets": [{"rule_set_type": kind, "rule_set_version": version}
                                      for kind, version in MANAGED_RULE_SETS],
            },
            custom_rules=[rate_limit_rule(args.rate_limit_per_minute)],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.id = self.policy.id
        self.register_outputs({"id": self.id})
