"""Global resources (alerting, Traffic Manager) outside the cell regions, and why customer data stays home.

The policy pack and the residency statement can read these tables instead of repeating them.
"""

from __future__ import annotations

GLOBAL_RESOURCES: dict[str, str] = {
    "azure-native:monitor:ActionGroup": (
        "Azure requires location 'global'; it holds on-call staff contacts and routes notifications, "
        "no customer data"),
    "azure-native:monitor:MetricAlert": (
        "metric alert rules are global by Azure's design; a rule holds a threshold and resource ids, "
        "the metrics it reads stay in the resource's region"),
    "azure-native:trafficmanager:Profile": (
        "Traffic Manager is a global DNS service; it holds the gateways' host names and answers DNS "
        "queries, no customer data passes through it"),
}

EXTENSION_RESOURCES: dict[str, str] = {
    "azure-native:monitor:DiagnosticSetting": "a setting of the resource it is on; it has no location of its own",
    "azure-native:compute:VirtualMachineScaleSetExtension": "runs on the scale set's VMs, in their region",
    "azure-native:monitor:DataCollectionRuleAssociation": "links a scale set to a rule; no location of its own",
}

# Not a resource, but the other thing that crosses the geography: availability probes run from
# Azure test locations on several continents (locations.py). They request only /healthz and the demo
# tenant's public booking page over TLS, so no customer data leaves the geography; the web tests
# themselves and their results live in the cell's primary region.
PROBES_OUTSIDE_GEOGRAPHY = "availability probes fetch only /healthz and the demo tenant's public page"
