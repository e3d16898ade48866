"""What a deployment needs besides the environment: the app wheel and the admin SSH keys.

Both are injected into `infra.program.build`, so tests and `slotstack plan` pass their own (a small
fixture wheel, a plan-only key) while `pulumi up` reads the real ones from the repository and the
deployer's environment.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.errors import SlotstackError

REPO = Path(__file__).resolve().parent.parent.parent
WHEEL = re.compile(r"booking-(?P<version>[0-9][A-Za-z0-9.+!_-]*?)-py3-none-any\.whl")
SSH_KEY_ENV = "SLOTSTACK_SSH_PUBLIC_KEY"
SSH_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?")
# The script cloud-init runs on every VM; written with the booking service.
BOOTSTRAP = REPO / "app" / "deploy" / "bootstrap.sh"


@dataclass(frozen=True)
class Wheel:
    """A built booking wheel and what the fleet needs to trust it."""

    path: Path
    """The .whl file on the deployer's machine."""
    version: str
    """The package version parsed from the file name."""
    sha256: str
    """Hex sha256 of the built file; the release extension's forceUpdateTag, so a new wheel rolls the fleet."""

    @classmethod
    def from_file(cls, path: Path) -> Wheel:
        """Describe an existing wheel; its name must be booking-<version>-py3-none-any.whl."""
        match = WHEEL.fullmatch(path.name)
        if match is None:
            raise SlotstackError(f"{path}: not a booking wheel; expected a file named "
                                 "booking-<version>-py3-none-any.whl "
                                 "(build one with `python -m build --wheel app --outdir dist`)")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return cls(path=path, version=match["version"], sha256=digest)


@dataclass(frozen=True)
class DeploySettings:
    """Inputs of the program that do not live in the environment file."""

    wheel: Wheel
    """The booking release rolled to every fleet."""
    ssh_public_keys: tuple[str, ...]
    """Break-glass admin keys (reached only through Azure Bastion); never passwords."""
    bootstrap: Path = BOOTSTRAP
    """The bootstrap script embedded into cloud-init when it exists."""
    monitor_wheel: Path | None = None
    """The `uptime` wheel for the monitor's sites on AWS; without one the monitor is not deployed."""

    def __post_init__(self) -> None:
        if not self.ssh_public_keys:
            raise SlotstackError(f"no admin SSH public key; set {SSH_KEY_ENV} to the contents of "
                                 "an ssh-ed25519 .pub file")
        for key in self.ssh_public_keys:
            if not SSH_KEY.fullmatch(key.strip()):
                raise SlotstackError(f"{SSH_KEY_ENV}: {key[:40]!r} is not an OpenSSH public key "
                                     "(expected 'ssh-ed25519 AAAA... comment'); never pass a private key")


def _newest_wheel(package: str, dist: Path, source: Path) -> Path:
    """The newest dist/<package>-*.whl, building one from `source` first when there is none."""
    pattern = f"{package}-*-py3-none-any.whl"
    wheels = sorted(dist.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not wheels:
        if not (source / "pyproject.toml").exists():
            raise SlotstackError(f"no {package} wheel in {dist} and no {source}/pyproject.toml to build one from")
        subprocess.run([sys.executable, "-m", "build", "--wheel", str(source), "--outdir", str(dist)],
                       check=True, capture_output=True)
        wheels = sorted(dist.glob(pattern), key=lambda p: p.stat().st_mtime)
        if not wheels:
            raise SlotstackError(f"`python -m build --wheel {source}` produced no {package} wheel in {dist}")
    return wheels[-1]


def find_wheel(dist: Path = REPO / "dist", app: Path = REPO / "app") -> Wheel:
    """The newest dist/booking-*.whl, building one from app/ first when there is none."""
    return Wheel.from_file(_newest_wheel("booking", dist, app))


def find_uptime_wheel(dist: Path = REPO / "dist", source: Path = REPO / "monitoring") -> Path:
    """The newest dist/uptime-*.whl, building one from monitoring/ first when there is none."""
    return _newest_wheel("uptime", dist, source)


def from_environ(keys: tuple[str, ...] | None = None) -> DeploySettings:
    """Settings for `pulumi up`: the newest wheels and the keys in $SLOTSTACK_SSH_PUBLIC_KEY (one per line)."""
    if keys is None:
        raw = os.environ.get(SSH_KEY_ENV, "")
        keys = tuple(line.strip() for line in raw.splitlines() if line.strip())
    return DeploySettings(wheel=find_wheel(), ssh_public_keys=keys, monitor_wheel=find_uptime_wheel())
