"""Production survives the loss of a zone: zone-redundant database, gateway and fleet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.provider import regions
from policy.rules.common import as_list, dig, environment_of

NAME = "ha-in-prod"
DESCRIPTION = ("In the prod environment PostgreSQL primaries use zone-redundant HA, and Application Gateways "
               "and scale sets span at least two availability zones where their region has zones.")
PRODUCTION = "prod"


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    # Untagged resources count as production: a missing tag must not switch a guardrail off.
    if environment_of(props) not in (PRODUCTION, None):
        return []
    if type_ == "azure-native:dbforpostgresql:Server":
        if props.get("createMode") == "Replica":
            return []
        mode = dig(props, "highAvailability.mode")
        if mode != "ZoneRedundant":
            return [f"highAvailability.mode is {mode!r}: a zone outage would stop the database; set mode "
                    "ZoneRedundant with a standbyAvailabilityZone (database.ha in the environment)"]
        if not dig(props, "highAvailability.standbyAvailabilityZone"):
            return ["highAvailability.standbyAvailabilityZone is not set: pin the standby to a zone other "
                    "than availabilityZone"]
        return []
    if type_ in ("azure-native:network:ApplicationGateway", "azure-native:compute:VirtualMachineScaleSet"):
        location = props.get("location")
        if isinstance(location, str) and not regions.has_zones(location):
            return []  # a zoneless region (a standby's) cannot spread over zones; provider-rules refuses any
        zones = as_list(props.get("zones"))
        if len(zones) < 2:
            return [f"zones is {zones!r}: a zone outage would take all instances; spread over zones 1, 2 and 3"]
    return []
