"""VM temp disks and caches are encrypted too: encryption at host on every VM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import dig

NAME = "encryption-at-host"
DESCRIPTION = "Scale sets and VMs enable securityProfile.encryptionAtHost."


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    if type_ == "azure-native:compute:VirtualMachineScaleSet":
        path = "virtualMachineProfile.securityProfile.encryptionAtHost"
    elif type_ == "azure-native:compute:VirtualMachine":
        path = "securityProfile.encryptionAtHost"
    else:
        return []
    if dig(props, path) is not True:
        return [f"{path} is not true: temp disks and disk caches would be stored unencrypted on the host; set "
                "it to true (register the EncryptionAtHost feature on the subscription once)"]
    return []
