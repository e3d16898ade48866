"""Release: the booking wheel delivered to every VM by the scale set's Custom Script extension.

The wheel travels inside the extension's protected settings, i.e. through the Azure management API
(encrypted, decrypted only on the VM). So the deployer needs no data-plane access to anything: no
storage account, no network line of sight, no Storage Blob Data role; and a fleet needs nothing but
its own scale set to boot, in either region. azure-native's Blob resource could not have uploaded to
a keyless account anyway (pulumi/pulumi-azure-native#2015).

Size: the settings are small (see MAX_SCRIPT_BYTES), and a wheel is a zip of deflated members, which
compresses no further. So the wheel ships *stored*: the same files, byte for byte, in a zip without
compression, which xz then compresses as one stream (Python sources share most of their vocabulary).
That stored wheel is a valid wheel in its own right: the VM unpacks it, bootstrap.sh checks its
sha256 (pinned here, over exactly the bytes pip installs) and installs it. Today's booking wheel ships
at about three quarters of MAX_SCRIPT_BYTES; the built wheel base64'd into the script did not fit.

Rollout: a new wheel changes the extension's settings (and its forceUpdateTag, the sha256 of the built
wheel), i.e. the scale set model. Under the Rolling upgrade policy Azure applies that to running
instances in batches, waiting for the ApplicationHealthLinux extension to report each batch healthy
before the next, and stops when too many upgraded instances are unhealthy. New instances run the
extension at creation. The extension runs bootstrap.sh, which keeps the previous release running if the
check or the install fails.

Extension settings: https://github.com/Azure/custom-script-extension-linux (`script`: base64, optionally
gzip'ed, run by /bin/sh; any change of the settings re-runs it) and
https://learn.microsoft.com/en-us/azure/virtual-machines/extensions/custom-script-linux; rolling
upgrades: https://learn.microsoft.com/en-us/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-configure-rolling-upgrades

`python -m infra.compute.release [WHEEL]` prints how much of the ceiling a wheel uses.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import lzma
import shlex
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pulumi_azure_native import compute

from infra.compute import cloud_init
from infra.compute.settings import BOOTSTRAP, Wheel, find_wheel
from infra.errors import SlotstackError

EXTENSION_NAME = "release"
# The CustomScript handler on the VM refuses a `script` setting longer than 256 KiB (maxScriptSize in
# main/cmds.go of Azure/custom-script-extension-linux), and only then: `pulumi up` would succeed and
# every instance's extension fail. Azure documents no limit for extension settings on the management
# side. So refuse here, before anything is created, with a quarter of the handler's limit kept as the
# margin for what is not documented; raise it towards 256 KiB only once a real `pulumi up` has carried
# a script of that size.
MAX_SCRIPT_BYTES = 192 * 1024
WORK = "/var/lib/slotstack/release"
# LZMA2 at its strongest; pb=0 because text has no 2^pb-byte structure (measured: 0.4% smaller).
XZ_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "pb": 0}]
# Lines of the embedded base64 stay under POSIX LINE_MAX (2048), yet few enough that their newlines
# cost next to nothing once gzip'ed (76-character lines cost 2.5 KB of the encoded script).
LINE = 1024
# On the VM: base64 -> xz -> the stored wheel. python3 rather than xz(1): cloud-init is written in
# Python, so python3 (with lzma in its standard library) is on every image that runs this fleet.
UNPACK = ("python3 -c 'import base64, lzma, sys; "
          "sys.stdout.buffer.write(lzma.decompress(base64.b64decode(sys.stdin.buffer.read())))'")


@dataclass(frozen=True)
class Shipped:
    """The wheel as the VMs receive it."""

    name: str
    """File name on the VM: the wheel's own, which pip parses."""
    sha256: str
    """Hex sha256 of the stored wheel: what bootstrap.sh checks before installing, and the release's
    directory on the VM (/opt/booking/releases/<sha256>)."""
    size: int
    """Bytes of the stored wheel."""
    xz: bytes
    """The stored wheel, xz-compressed: what the script carries (base64'd)."""


@functools.lru_cache(maxsize=8)
def shipped(wheel: Wheel) -> Shipped:
    """`wheel` re-zipped without compression, deterministically, and xz'd (cached: every fleet ships it)."""
    data = wheel.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != wheel.sha256:
        raise SlotstackError(f"{wheel.path} changed after the program read it (sha256 {wheel.sha256}); "
                             "do not rebuild dist/ during `pulumi up`: run it again")
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as stored:
            for info in source.infolist():
                # Only what the built wheel states: the same bytes always make the same stored wheel,
                # so an unchanged release shows no diff (and rolls nothing).
                member = zipfile.ZipInfo(info.filename, info.date_time)
                member.external_attr = info.external_attr
                member.create_system = 3  # Unix, whatever the deployer's OS
                stored.writestr(member, source.read(info))  # read() checks each member's CRC
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise SlotstackError(f"{wheel.path} is not a readable wheel ({error}); rebuild it with "
                             "`python -m build --wheel app --outdir dist`") from error
    raw = out.getvalue()
    return Shipped(name=wheel.path.name, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
                   xz=lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, filters=XZ_FILTERS))


def _heredoc(path: str, content: bytes) -> str:
    """Shell that writes `content` to `path` byte for byte.

    Text that a quoted here-document reproduces exactly (UTF-8, ending in a newline, no line equal to
    the delimiter) and that the handler's dos2unix pass over script.sh leaves alone (no carriage
    return) goes in as it is, which gzip compresses twice as well as base64; anything else is
    base64-wrapped so any bytes survive the script."""
    delimiter = "SLOTSTACK_EOF"
    try:
        text = content.decode()
    except UnicodeDecodeError:
        text = ""
    if text.endswith("\n") and "\r" not in text and delimiter not in text.splitlines():
        return f"cat > {shlex.quote(path)} <<'{delimiter}'\n{text}{delimiter}\n"
    body = base64.encodebytes(content).decode()
    return f"base64 -d > {shlex.quote(path)} <<'{delimiter}'\n{body}{delimiter}\n"


def _wheel_heredoc(path: str, ship: Shipped) -> str:
    """Shell that writes the stored wheel to `path` from its xz'd, base64'd bytes."""
    text = base64.b64encode(ship.xz).decode()
    body = "\n".join(text[i:i + LINE] for i in range(0, len(text), LINE))
    return f"{UNPACK} > {shlex.quote(path)} <<'SLOTSTACK_WHEEL'\n{body}\nSLOTSTACK_WHEEL\n"


def payload(wheel: Wheel, boot: cloud_init.Boot, bootstrap: Path) -> str:
    """The script the extension runs on a VM: unpack the wheel and bootstrap.sh, then install and restart."""
    ship = shipped(wheel)
    unit = bootstrap.parent / "booking.service"
    target = f"{WORK}/{ship.sha256}"
    env_args = " ".join(f"--env {shlex.quote(f'{k}={v}')}" for k, v in cloud_init.environment(boot).items())
    parts = [
        "#!/bin/sh\n",
        f"# booking {wheel.version}: built wheel {wheel.sha256}, shipped stored as {ship.sha256}; "
        "written by infra/compute/release.py\n",
        "set -eu\n",
        # cloud-init installs python3-venv on a new instance; the extension may start before it is done.
        "cloud-init status --wait >/dev/null 2>&1 || true\n",
        f"mkdir -p {target}\n",
        _wheel_heredoc(f"{target}/{ship.name}", ship),
        _heredoc(f"{target}/bootstrap.sh", bootstrap.read_bytes()),
        _heredoc(f"{target}/booking.service", unit.read_bytes()),
        # bootstrap.sh refuses the wheel unless its sha256 is the one pinned here, before anything switches.
        f"sh {target}/bootstrap.sh --wheel-file {target}/{ship.name} --sha256 {ship.sha256} "
        f"--unit-file {target}/booking.service {env_args} \"$@\"\n",
        # Keep this release and the one before it on disk for a manual rollback; drop older ones.
        f"ls -1dt {WORK}/*/ | tail -n +3 | xargs -r rm -rf\n",
    ]
    return "".join(parts)


def encoded(script: str) -> str:
    """`script` gzip'ed (deterministically: no timestamp, so an unchanged release shows no diff) and base64'd."""
    return base64.b64encode(gzip.compress(script.encode(), mtime=0)).decode()


def too_large(wheel: Wheel, size: int) -> str:
    """What to tell the deployer when `wheel`'s script is `size` bytes encoded, over the ceiling."""
    ship = shipped(wheel)
    return (f"{wheel.path} is too large to ship inline in the release extension: its script is {size:,} bytes "
            f"encoded, over the {MAX_SCRIPT_BYTES:,}-byte ceiling (the wheel's files, {ship.size:,} bytes, "
            f"compress to {len(ship.xz):,}). Keep dependencies out of the wheel (declare them in "
            "app/pyproject.toml; pip installs them on the VM) and large data out of app/booking "
            f"(`unzip -l {wheel.path}` lists what is in it), then rebuild it with "
            "`python -m build --wheel app --outdir dist`. See 'Release size' in docs/deploy.md.")


def extension(wheel: Wheel, boot: cloud_init.Boot, bootstrap: Path) -> compute.VirtualMachineScaleSetExtensionArgsDict:
    """The scale set extension (inline in the scale set's profile) that installs `wheel` on every VM."""
    if not bootstrap.is_file() or not (bootstrap.parent / "booking.service").is_file():
        raise SlotstackError(f"{bootstrap} (and booking.service beside it) not found: the release extension "
                             "embeds them; check out app/deploy/")
    script = encoded(payload(wheel, boot, bootstrap))
    if len(script) > MAX_SCRIPT_BYTES:
        raise SlotstackError(too_large(wheel, len(script)))
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
        "protected_settings": {"script": script},
    }


def script_size(wheel: Wheel, bootstrap: Path = BOOTSTRAP) -> int:
    """Bytes of `wheel`'s encoded release script, with a prod-like service environment (3 cells)."""
    boot = cloud_init.Boot(cell="eu", cell_urls={c: f"https://{c}.book.example.com" for c in ("us", "eu", "au")},
                           key_vault_uri="https://kv-ss-prd-eu-000000.vault.azure.net/",
                           client_id="00000000-0000-0000-0000-000000000000")
    return len(encoded(payload(wheel, boot, bootstrap)))


def report(wheel: Wheel, size: int) -> str:
    """One line: how much of the ceiling `wheel` uses, its script being `size` bytes encoded."""
    ship = shipped(wheel)
    return (f"{wheel.path.name}: {wheel.path.stat().st_size:,} bytes built, {ship.size:,} stored, "
            f"{len(ship.xz):,} xz'd; release script {size:,} bytes encoded of {MAX_SCRIPT_BYTES:,} "
            f"({100 * size / MAX_SCRIPT_BYTES:.0f}%)")


def main(argv: list[str]) -> int:
    """`python -m infra.compute.release [WHEEL]`: measure a wheel (default: the one `pulumi up` ships)."""
    try:
        wheel = Wheel.from_file(Path(argv[0])) if argv else find_wheel()
        size = script_size(wheel)
    except SlotstackError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"release: cannot read the wheel: {error}; pass the path of a built booking wheel", file=sys.stderr)
        return 2
    print(report(wheel, size))
    if size > MAX_SCRIPT_BYTES:
        print(f"release: {too_large(wheel, size)}", file=sys.stderr)
        return 1
    print(f"release: fits, {MAX_SCRIPT_BYTES - size:,} bytes to spare")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
