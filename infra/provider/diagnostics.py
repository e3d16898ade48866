"""Diagnostic-setting categories each resource type accepts (Azure Monitor refuses any other).

Source: https://learn.microsoft.com/en-us/azure/azure-monitor/reference/supported-logs/logs-index and
https://learn.microsoft.com/en-us/azure/azure-monitor/reference/supported-metrics/metrics-index (one page
per resource type; "Exportable via diagnostic settings"), and for storage
https://learn.microsoft.com/en-us/azure/storage/blobs/monitor-blob-storage-reference: a storage
account emits no logs itself (its blob, file, queue and table services do), and its metrics
export as the categories Transaction and Capacity, not AllMetrics.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_LOGS_GROUP = "allLogs"
ALL_METRICS = "AllMetrics"


@dataclass(frozen=True)
class Categories:
    """What a diagnostic setting on one resource type may ask for."""

    logs: bool
    """Whether the type has log categories (then the allLogs category group is accepted)."""
    metrics: tuple[str, ...]
    """The metric categories it accepts."""
    source: str


_LOGS = "https://learn.microsoft.com/en-us/azure/azure-monitor/reference/supported-logs/logs-index"
_STORAGE = "https://learn.microsoft.com/en-us/azure/storage/blobs/monitor-blob-storage-reference"

# Keyed by the ARM resource type, lower case (ARM compares types case-insensitively).
CATEGORIES: dict[str, Categories] = {
    "microsoft.network/applicationgateways": Categories(True, (ALL_METRICS,), _LOGS),
    "microsoft.dbforpostgresql/flexibleservers": Categories(True, (ALL_METRICS,), _LOGS),
    "microsoft.keyvault/vaults": Categories(True, (ALL_METRICS,), _LOGS),
    "microsoft.storage/storageaccounts": Categories(False, ("Transaction", "Capacity"), _STORAGE),
    "microsoft.storage/storageaccounts/blobservices": Categories(True, ("Transaction", "Capacity"), _STORAGE),
}


def resource_type(resource_id: str) -> str:
    """The ARM type of a resource id, lower case: 'microsoft.storage/storageaccounts/blobservices'."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    rest = parts[lowered.index("providers") + 1:]
    # namespace, then alternating type/name pairs: keep the types
    return "/".join([rest[0], *rest[1::2]]).lower() if rest else ""


def categories(resource_id: str) -> Categories | None:
    """The categories the resource at `resource_id` accepts, or None for a type the table does not know."""
    return CATEGORIES.get(resource_type(resource_id))


def problems(resource_id: str, logs: list[dict[str, object]], metrics: list[dict[str, object]]) -> list[str]:
    """Why Azure would refuse a diagnostic setting with these logs and metrics on `resource_id` (empty: fine)."""
    rule = categories(resource_id)
    if rule is None:
        return []
    found = []
    kind = resource_type(resource_id)
    if logs and not rule.logs:
        found.append(f"logs: {kind} has no log categories ({rule.source}); send no logs (its services emit them)")
    for metric in metrics:
        category = metric.get("category")
        if category not in rule.metrics:
            found.append(f"metrics: category {category!r} is not accepted by {kind} ({rule.source}); "
                         f"use {', '.join(rule.metrics)}")
    return found
