"""The uptime monitor's configuration on AWS: the shared renderer with the AWS site's sections.

What the monitor probes and whom it pages come from infra/uptime_config.py; here only where it runs.
Secrets are referenced by environment-variable name (the monitor's `*_env` keys) and come from SSM.
"""

from __future__ import annotations

import pulumi
import yaml

from infra import uptime_config
from infra.environment import Environment
from infra.secrets import reveal

PORT = 8470


def site(env: Environment, *, public_url: pulumi.Input[str], locations: list[str], sns_region: str
         ) -> uptime_config.Site:
    """The AWS core: public https URLs of the cells, SNS for SMS, SES for email, secret phones revealed."""
    return uptime_config.Site(
        monitor={
            "listen": f"0.0.0.0:{PORT}",
            "public_url": public_url,
            "database": "/var/lib/uptime/uptime.db",
            "status_dir": "/var/lib/uptime/status",
            "runbook_url": "https://github.com/slotstack/slotstack/blob/main/docs/runbooks/on-call.md",
            "ack_secret_env": "UPTIME_ACK_SECRET",
            "agent_key_env": "UPTIME_AGENT_KEY",
            "locations": locations,
        },
        channels={
            # SNS from the core's own role: no SMS credential to leak or rotate.
            "sms": {"type": "sns", "region": sns_region},
            "email": {"type": "email", "host": f"email-smtp.{sns_region}.amazonaws.com", "port": 587,
                      "starttls": True, "username_env": "SMTP_USERNAME", "password_env": "SMTP_PASSWORD",
                      "from": f"slotstack uptime <uptime@{_mail_domain(env)}>"},
        },
        base_url=lambda cell: f"https://{cell.hostname}",
        defaults={"interval": "30s", "timeout": "10s", "cert_warn_days": 21, "cert_critical_days": 7},
        quorum=env.monitor.quorum,
        phone=reveal,
    )


def document(env: Environment, *, public_url: pulumi.Input[str], locations: list[str],
             sns_region: str) -> pulumi.Output[str]:
    """The YAML config of the core and the agents (phones stay secret Outputs until rendered)."""
    config = uptime_config.document(env, site(env, public_url=public_url, locations=locations, sns_region=sns_region))
    return pulumi.Output.from_input(config).apply(lambda c: yaml.safe_dump(c, sort_keys=False))


def _mail_domain(env: Environment) -> str:
    first = next(iter(env.cells.values()))
    return first.hostname.split(".", 1)[1]
