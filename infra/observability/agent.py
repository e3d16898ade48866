"""Azure Monitor Agent on the fleet, and the data collection rule that ships its syslog/journald."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import compute, monitor

from infra.observability.arm import group_and_name

AGENT_PUBLISHER = "Microsoft.Azure.Monitor"
AGENT_TYPE = "AzureMonitorLinuxAgent"
AGENT_VERSION = "1.0"  # with auto upgrade on, Azure keeps the newest 1.x
SYSLOG_STREAM = "Microsoft-Syslog"
# journald forwards to rsyslog on the fleet image (ForwardToSyslog=yes), so the agent reads both
# the service's journal and the system's syslog through this one stream.
SYSLOG_FACILITIES = ["auth", "authpriv", "cron", "daemon", "kern", "syslog", "user", "local0"]
SYSLOG_LEVELS = ["Info", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency"]
DESTINATION = "cell-workspace"


@dataclass
class MonitorAgentArgs:
    """Inputs of `MonitorAgent`."""

    resource_group_name: pulumi.Input[str]
    """Resource group of the data collection rule (the primary region's)."""
    location: str
    """Region of the data collection rule: the workspace's (the cell's primary region)."""
    workspace_id: pulumi.Input[str]
    """The cell's Log Analytics workspace."""
    scale_set_ids: Mapping[str, pulumi.Input[str]]
    """Label (e.g. the region) -> VM Scale Set id; each gets the agent and the rule."""
    tags: Mapping[str, str]
    """The cell tags."""
    identity_id: pulumi.Input[str] | None = None
    """User-assigned identity the agent authenticates with (the fleet's); None uses the system identity."""
    facilities: list[str] = field(default_factory=lambda: list(SYSLOG_FACILITIES))
    """Syslog facilities collected."""
    install_extension: bool = True
    """False when the scale set lists `agent_extension(...)` in its own extension profile: a scale set
    that declares its extensions inline would remove a separately managed one on every update."""


def _settings(identity_id: pulumi.Input[str] | None) -> pulumi.Output[dict[str, Any]] | None:
    if identity_id is None:
        return None
    return pulumi.Output.from_input(identity_id).apply(lambda identity: {
        "authentication": {"managedIdentity": {"identifier-name": "mi_res_id", "identifier-value": identity}}})


def agent_extension(identity_id: pulumi.Input[str] | None = None) -> compute.VirtualMachineScaleSetExtensionArgsDict:
    """The Azure Monitor Agent as an entry of a scale set's `extension_profile.extensions`."""
    extension: compute.VirtualMachineScaleSetExtensionArgsDict = {
        "name": AGENT_TYPE,
        "publisher": AGENT_PUBLISHER,
        "type": AGENT_TYPE,
        "type_handler_version": AGENT_VERSION,
        "auto_upgrade_minor_version": True,
        "enable_automatic_upgrade": True,
    }
    settings = _settings(identity_id)
    if settings is not None:
        extension["settings"] = settings
    return extension


class MonitorAgent(pulumi.ComponentResource):
    """AMA extension per scale set + one Linux DCR (syslog -> workspace) associated with each."""

    rule_id: pulumi.Output[str]

    def __init__(self, name: str, args: MonitorAgentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:MonitorAgent", name, None, opts)
        if not args.scale_set_ids:
            raise ValueError(f"{name}: scale_set_ids is empty; pass the fleet's VM Scale Set ids")
        child = pulumi.ResourceOptions(parent=self)
        rule = monitor.DataCollectionRule(
            f"{name}-dcr",
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="Linux",
            description="Fleet syslog and journald to the cell's Log Analytics workspace",
            data_sources={"syslog": [{
                "name": "fleet-syslog",
                "streams": [SYSLOG_STREAM],
                "facility_names": list(args.facilities),
                "log_levels": SYSLOG_LEVELS,
            }]},
            destinations={"log_analytics": [{"name": DESTINATION, "workspace_resource_id": args.workspace_id}]},
            data_flows=[{"streams": [SYSLOG_STREAM], "destinations": [DESTINATION]}],
            tags=dict(args.tags),
            opts=child,
        )
        settings = _settings(args.identity_id)
        for label, scale_set_id in args.scale_set_ids.items():
            if args.install_extension:
                parts = pulumi.Output.from_input(scale_set_id).apply(
                    lambda i: group_and_name(i, "virtualMachineScaleSets"))
                compute.VirtualMachineScaleSetExtension(
                    f"{name}-ama-{label}",
                    resource_group_name=parts.apply(lambda p: p[0]),
                    vm_scale_set_name=parts.apply(lambda p: p[1]),
                    vmss_extension_name=AGENT_TYPE,
                    publisher=AGENT_PUBLISHER,
                    type=AGENT_TYPE,
                    type_handler_version=AGENT_VERSION,
                    auto_upgrade_minor_version=True,
                    enable_automatic_upgrade=True,
                    settings=settings,
                    opts=child,
                )
            monitor.DataCollectionRuleAssociation(
                f"{name}-dcra-{label}",
                association_name=f"{name}-syslog",
                resource_uri=scale_set_id,
                data_collection_rule_id=rule.id,
                description="Ship this scale set's syslog to the cell workspace",
                opts=child,
            )
        self.rule_id = rule.id
        self.register_outputs({"rule_id": self.rule_id})
