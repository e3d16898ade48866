"""The permission behind every call made at run time: by the fleet's VMs, and by the monitor's instances.

Each entry names the call as the code makes it, the role or IAM action that grants it, and the
document that says so. The monitor's Session Manager grant is built from this table; tests check
that every call listed here is granted and that the identities hold no role beyond these
(tests/infra/test_monitor_permissions.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    """One run-time call and what authorizes it."""

    caller: str
    call: str
    grant: str
    """An Azure built-in role name, or an IAM action."""
    source: str


SSM_DOC = "https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html"
SESSION_DOC = ("https://docs.aws.amazon.com/systems-manager/latest/userguide/"
               "getting-started-create-iam-instance-profile.html")

MONITOR_CALLS: tuple[Call, ...] = (
    Call("monitor instance", "aws ssm get-parameter --name /slotstack/ENV/uptime-config", "ssm:GetParameter",
         SSM_DOC),
    Call("monitor instance", "aws ssm get-parameters-by-path --path /slotstack/ENV/uptime/",
         "ssm:GetParametersByPath", SSM_DOC),
    # Session Manager (admin shell without SSH): the agent's channel, nothing that reads parameters.
    Call("monitor instance", "amazon-ssm-agent registration", "ssm:UpdateInstanceInformation", SESSION_DOC),
    Call("monitor instance", "amazon-ssm-agent sessions", "ssmmessages:CreateControlChannel", SESSION_DOC),
    Call("monitor instance", "amazon-ssm-agent sessions", "ssmmessages:CreateDataChannel", SESSION_DOC),
    Call("monitor instance", "amazon-ssm-agent sessions", "ssmmessages:OpenControlChannel", SESSION_DOC),
    Call("monitor instance", "amazon-ssm-agent sessions", "ssmmessages:OpenDataChannel", SESSION_DOC),
)

FLEET_CALLS: tuple[Call, ...] = (
    Call("fleet VM (booking serve)", "Key Vault GET secrets/booking-* with the fleet identity",
         "Key Vault Secrets User",
         "https://learn.microsoft.com/en-us/azure/key-vault/general/rbac-guide"),
    Call("gateway", "Key Vault GET secrets/gateway-tls with the gateway identity", "Key Vault Secrets User",
         "https://learn.microsoft.com/en-us/azure/application-gateway/key-vault-certs"),
)


def session_manager_actions() -> list[str]:
    """The IAM actions Session Manager's agent needs (instead of AmazonSSMManagedInstanceCore, which
    also grants ssm:GetParameter(s) on every parameter of the account)."""
    return [c.grant for c in MONITOR_CALLS if c.source == SESSION_DOC]
