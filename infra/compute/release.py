"""Release: the booking wheel delivered to every VM by the scale set's Custom Script extension.

The wheel travels inside the extension's protected settings, i.e. through the Azure management API
(encrypted, decrypted only on the VM). So the deployer needs no data-plane access to anything: no
storage account, no network line of sight, no Storage Blob Data role; and a fleet needs nothing but
its own scale set to boot, in either region. azure-native's Blob resource could not have uploaded to
a keyless account anyway (pulumi/pulumi-azure-native#2015).

Rollout: a new wheel changes the extension's settings (and its forceUpdateTag, the sha256), i.e. the
scale set model. Under the Rolling upgrade policy Azure applies that to running instances in batches,
waiting for the ApplicationHealthLinux extension to report each batch healthy before the next, and
stops when too many upgraded instances are unhealthy. New instances run the extension at creation.
The extension runs bootstrap.sh, which keeps the previous release running if the install fails.

Extension settings: https://github.com/Azure/custom-script-extension-linux (`script`: base64, optionally
gzip'ed, run by /bin/sh; any change of the settings re-runs it) and
https://learn.microsoft.com/en-us/azure/virtual-machines/extensions/custom-script-linux; rolling
upgrades: https://learn.microsoft.com/en-us/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-configure-rolling-upgrades
"""

from __future__ import annotations

import base64
import gzip
import shlex
from pathlib import Path

from pulumi_azure_native import compute

from infra.compute import cloud_init
from infra.compute.settings import Wheel
from infra.errors import SlotstackError

EXTENSION_NAME = "release"
# The documented ceiling of an extension's settings is not stated for CustomScript; 256 KiB is the
# limit Azure applies to a scale set model request's extension settings in practice, so stay well
# below it and refuse early with a message rather than fail in the middle of `pulumi up`.
MAX_SCRIPT_BYTES = 192 * 1024
WORK = "/var/lib/slotstack/release"


def _heredoc(path: str, content: bytes) -> str:
    """Shell that writes `content` to `path`, base64-wrapped so any bytes survive the script."""
    body = base64.encodebytes(content).decode()
    return f"base64 -d > {shlex.quote(path)} <<'SLOTSTACK_EOF'\n{body}SLOTSTACK_EOF\n"


def payload(wheel: Wheel, boot: cloud_init.Boot, bootstrap: Path) -> str:
    """The script the extension runs on a VM: unpack the wheel and bootstrap.sh, then install and restart."""
    unit = bootstrap.parent / "booking.service"
    target = f"{WORK}/{wheel.sha256}"
    env_args = " ".join(f"--env {shlex.quote(f'{k}={v}')}" for k, v in cloud_init.environment(boot).items())
    parts = [
        "#!/bin/sh\n",
        f"# booking {wheel.version} ({wheel.sha256}); written by infra/compute/release.py\n",
        "set -eu\n",
        # cloud-init installs python3-venv on a new instance; the extension may start before it is done.
        "cloud-init status --wait >/dev/null 2>&1 || true\n",
        f"mkdir -p {target}\n",
        _heredoc(f"{target}/{wheel.path.name}", wheel.path.read_bytes()),
        _heredoc(f"{target}/bootstrap.sh", bootstrap.read_bytes()),
        _heredoc(f"{target}/booking.service", unit.read_bytes()),
        f"sh {target}/bootstrap.sh --wheel-file {target}/{wheel.path.name} --sha256 {wheel.sha256} "
        f"--unit-file {target}/booking.service {env_args} \"$@\"\n",
        # Keep this release and the one before it on disk for a manual rollback; drop older ones.
        f"ls -1dt {WORK}/*/ | tail -n +3 | xargs -r rm -rf\n",
    ]
    return "".join(parts)


def encoded(script: str) -> str:
    """`script` gzip'ed (deterministically: no timestamp, so an unchanged release shows no diff) and base64'd."""
    data = base64.b64encode(gzip.compress(script.encode(), mtime=0)).decode()
    if len(data) > MAX_SCRIPT_BYTES:
        raise SlotstackError(f"the release extension's script is {len(data)} bytes encoded, more than "
                             f"{MAX_SCRIPT_BYTES}; the booking wheel is too large to ship inline: keep its "
                             "dependencies out of the wheel (pip installs them on the VM)")
    return data


def extension(wheel: Wheel, boot: cloud_init.Boot, bootstrap: Path) -> compute.VirtualMachineScaleSetExtensionArgsDict:
    """The scale set extension (inline in the scale set's profile) that installs `wheel` on every VM."""
    if not bootstrap.is_file() or not (bootstrap.parent / "booking.service").is_file():
        raise SlotstackError(f"{bootstrap} (and booking.service beside it) not found: the release extension "
                             "embeds them; check out app/deploy/")
    return {
        "name": EXTENSION_NAME,
        "publisher": "Microsoft.Azure.Extensions",
        "type": "CustomScript",
        "type_handler_version": "2.1",
        "auto_upgrade_minor_version": True,
        # Changing the tag re-runs the extension on every instance: one per release.
        "force_update_tag": wheel.sha256,
        # The health extension must be there first: rolling upgrades gate each batch on it.
        "provision_after_extensions": ["health"],
        "protected_settings": {"script": encoded(payload(wheel, boot, bootstrap))},
    }
