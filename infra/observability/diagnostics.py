"""Diagnostic settings: send every log category and every metric of the given resources to the workspace.

Which categories a resource type accepts comes from infra.provider.diagnostics: storage accounts
take only Transaction and Capacity metrics and no logs; their blob service has the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor

from infra.provider.diagnostics import CATEGORIES

SETTING_NAME = "to-log-analytics"
ALL_LOGS: list[monitor.DiagnosticsLogSettingsArgsDict] = [{"category_group": "allLogs", "enabled": True}]
ALL_METRICS: list[monitor.DiagnosticsMetricSettingsArgsDict] = [{"category": "AllMetrics", "enabled": True}]
STORAGE_METRICS: list[monitor.DiagnosticsMetricSettingsArgsDict] = [
    {"category": c, "enabled": True} for c in CATEGORIES["microsoft.storage/storageaccounts"].metrics]
# A storage account's logs are emitted by its services, not by the account itself.
BLOB_SERVICE = "/blobServices/default"


@dataclass
class DiagnosticsArgs:
    """Inputs of `Diagnostics`."""

    workspace_id: pulumi.Input[str]
    """The cell's Log Analytics workspace."""
    targets: Mapping[str, pulumi.Input[str]]
    """Label -> resource id of each data-bearing resource (gateway, WAF policy's gateway, PostgreSQL servers,
    Key Vault): each gets allLogs + AllMetrics. Labels name the child resources, so keep them stable."""
    storage_account_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Label -> storage account id: Transaction + Capacity on the account, allLogs + the same on its blob service."""


def blob_service_id(account_id: str) -> str:
    """The blob service of a storage account, where its read/write/delete logs come from."""
    return account_id.rstrip("/") + BLOB_SERVICE


class Diagnostics(pulumi.ComponentResource):
    """One diagnostic setting per target resource, all to one workspace."""

    setting_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DiagnosticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:Diagnostics", name, None, opts)
        if not args.targets and not args.storage_account_ids:
            raise ValueError(f"{name}: no targets; pass the ids of the gateway, databases, Key Vault and "
                             "storage accounts whose logs must reach the workspace")
        child = pulumi.ResourceOptions(parent=self)
        self.setting_ids = {}
        for label, resource_id in args.targets.items():
            self.setting_ids[label] = self._setting(f"{name}-{label}", resource_id, args.workspace_id,
                                                    logs=True, metrics=ALL_METRICS, child=child)
        for label, account_id in args.storage_account_ids.items():
            self.setting_ids[label] = self._setting(f"{name}-{label}", account_id, args.workspace_id,
                                                    logs=False, metrics=STORAGE_METRICS, child=child)
            blob = pulumi.Output.from_input(account_id).apply(blob_service_id)
            self.setting_ids[f"{label}-blob"] = self._setting(f"{name}-{label}-blob", blob, args.workspace_id,
                                                              logs=True, metrics=STORAGE_METRICS, child=child)
        self.register_outputs({"setting_ids": self.setting_ids})

    @staticmethod
    def _setting(resource_name: str, resource_id: pulumi.Input[str], workspace_id: pulumi.Input[str],
                 *, logs: bool, metrics: list[monitor.DiagnosticsMetricSettingsArgsDict],
                 child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        setting = monitor.DiagnosticSetting(
            resource_name,
            name=SETTING_NAME,
            resource_uri=resource_id,
            workspace_id=workspace_id,
            logs=ALL_LOGS if logs else None,
            metrics=metrics,
            opts=child,
        )
        return setting.id
