"""Virtual machines accept SSH keys only: no password can be guessed or leaked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import dig

NAME = "no-vm-password-authentication"
DESCRIPTION = "Scale sets and VMs are Linux with password authentication disabled and no admin password."
SCALE_SET = "azure-native:compute:VirtualMachineScaleSet"
VM = "azure-native:compute:VirtualMachine"


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    if type_ == SCALE_SET:
        profile = dig(props, "virtualMachineProfile.osProfile")
    elif type_ == VM:
        profile = dig(props, "osProfile")
    else:
        return []
    if not isinstance(profile, Mapping):
        return ["osProfile is missing: set linuxConfiguration.disablePasswordAuthentication true with SSH keys"]
    problems = []
    if profile.get("adminPassword"):
        problems.append("osProfile.adminPassword is set: remove it; admins log in with SSH keys through Bastion")
    if dig(profile, "windowsConfiguration") is not None:
        problems.append("osProfile.windowsConfiguration is set: Windows logins use passwords; the fleet is Linux")
    if dig(profile, "linuxConfiguration.disablePasswordAuthentication") is not True:
        problems.append("osProfile.linuxConfiguration.disablePasswordAuthentication is not true: set it to true "
                        "and provide SSH public keys")
    return problems
