"""Access-restricted Azure regions: deployable only after the subscription's request is approved.

Advisory, not mandatory: an approved subscription deploys there fine, and the program cannot tell
from the inside. `slotstack validate` and `slotstack plan` warn about the same regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.provider import regions

NAME = "restricted-region-access"
DESCRIPTION = ("Resources in access-restricted Azure regions (e.g. germanynorth) need the subscription's access "
               "request approved first.")


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """A reminder per resource placed in an access-restricted region."""
    location = props.get("location")
    if type_.startswith("azure-native:") and isinstance(location, str) and regions.is_restricted(location):
        return [f"{location} is an access-restricted region: request access for the subscription first "
                f"({regions.ACCESS_REQUEST}), or this resource fails to create"]
    return []
