"""`make mutate`: remove one guardrail at a time from the program and show that the tests catch each.

Each mutant is data: a file, the exact text of a guardrail in it, what replaces that text, and the
tests that must then fail. The tree is copied to a temporary directory (tracked and new files, as
they are in the working tree now); each mutant is applied to the copy, its tests run there, and the
file is put back before the next one. The working tree is never written.

Exit status: 0 when every mutant is killed, 1 when one survives (the tests miss a guardrail), 2 when a
mutant no longer applies (its original text is gone or ambiguous: update the table) or the
unmutated tests fail (a kill would then prove nothing).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICY = "tests/policy/test_policy.py"


@dataclass(frozen=True)
class Mutant:
    """One guardrail taken out: `original` (exactly once in `path`) becomes `replacement`."""

    name: str
    path: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    """Test files or node ids that must fail with the mutant in place."""


MUTANTS: tuple[Mutant, ...] = (
    Mutant("fleet-monitoring-agent", "infra/cell.py",
           'extra_extensions=[release_extension, agent_extension(identities["fleet"].id)]',
           "extra_extensions=[release_extension]",
           ("tests/infra/test_observability_logs.py",)),
    Mutant("backup-store-diagnostics", "infra/cell.py",
           'storage_ids: dict[str, pulumi.Input[str]] = {"backup": self.backup.account.id}',
           "storage_ids: dict[str, pulumi.Input[str]] = {}",
           ("tests/infra/test_observability_logs.py",)),
    Mutant("database-subnet-deny-all", "infra/network/nsg_rules.py",
           '        _allow("AllowReplicationFromPeer", 110, peer.prefix("database"), str(POSTGRES_PORT)),\n'
           "        _deny_all(),\n",
           '        _allow("AllowReplicationFromPeer", 110, peer.prefix("database"), str(POSTGRES_PORT)),\n',
           ("tests/infra/test_network.py",)),
    Mutant("backup-store-tls-minimum", "infra/storage/backup.py",
           'minimum_tls_version="TLS1_2",', 'minimum_tls_version="TLS1_0",',
           (POLICY,)),
    Mutant("zones-in-a-zoneless-region", "infra/compute/fleet.py",
           "zones = regions.zones_of(args.location)", 'zones = ["1", "2", "3"]',
           ("tests/infra/test_provider_rules.py",)),
    Mutant("release-rolls-to-running-vms", "infra/compute/release.py",
           '"force_update_tag": wheel.sha256,', '"force_update_tag": "1",',
           ("tests/infra/test_release_rollout.py",)),
    Mutant("residency-tag", "infra/tags.py",
           '        "residency": cell.residency,\n', "",
           ("tests/infra/test_program.py", POLICY)),
    Mutant("waf-prevention-mode", "infra/network/waf.py",
           '"mode": "Prevention",', '"mode": "Detection",',
           ("tests/infra/test_edge.py", POLICY)),
    Mutant("key-vault-purge-protection", "infra/storage/keyvault.py",
           '"enable_purge_protection": True,', '"enable_purge_protection": False,',
           ("tests/infra/test_keyvault.py", POLICY)),
    Mutant("postgres-tls-minimum", "infra/storage/postgres.py",
           '("ssl_min_protocol_version", "TLSv1.2"),', '("ssl_min_protocol_version", "TLSv1"),',
           (POLICY,)),
    Mutant("s3-public-access-block", "infra/storage/images.py",
           "restrict_public_buckets=True", "restrict_public_buckets=False",
           ("tests/infra/test_images.py", POLICY)),
    Mutant("gateway-tls-policy", "infra/network/gateway.py",
           'SSL_POLICY = "AppGwSslPolicy20220101S"', 'SSL_POLICY = "AppGwSslPolicy20150501"',
           ("tests/infra/test_edge.py", POLICY)),
    Mutant("fleet-encryption-at-host", "infra/compute/fleet.py",
           '"encryption_at_host": True,', '"encryption_at_host": False,',
           ("tests/infra/test_fleet.py", POLICY)),
    Mutant("traffic-manager-host-header", "infra/network/traffic_manager.py",
           '"custom_headers": [{"name": "Host", "value": cell.hostname}],', '"custom_headers": [],',
           ("tests/infra/test_failover.py",)),
    Mutant("monitor-escalation-steps", "infra/uptime_config.py",
           "for step in env.oncall.escalation]", "for step in env.oncall.escalation[:1]]",
           ("tests/infra/test_uptime_config.py",)),
    Mutant("monitor-core-cloudfront-only", "infra/uptime_aws/deployment.py",
           'name="com.amazonaws.global.cloudfront.origin-facing"', 'name="com.amazonaws.global.ipv4"',
           ("tests/infra/test_uptime_aws.py",)),
)


@dataclass(frozen=True)
class Result:
    """What the tests said about one mutant."""

    mutant: Mutant
    killed: bool
    failed: tuple[str, ...]
    """The test ids that failed (the mutant's killers)."""
    seconds: float


class StaleMutant(Exception):
    """A mutant's original text is missing from its file or appears more than once."""


def copy_tree(source: Path, target: Path) -> None:
    """Copy the files git knows of or would add (tracked and new, not ignored) as they are now."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=source,
                             check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listing):
        path = source / name
        if path.is_file():  # a deleted but still tracked file is skipped
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / name)


def check_applies(tree: Path, mutant: Mutant) -> str:
    """The text of `mutant`'s file in `tree`; StaleMutant unless it holds the original exactly once."""
    path = tree / mutant.path
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    count = text.count(mutant.original)
    if count != 1:
        raise StaleMutant(f"{mutant.name}: {mutant.path} contains the original text {count} times, not once: "
                          f"{mutant.original!r}")
    return text


@contextmanager
def applied(tree: Path, mutant: Mutant) -> Iterator[None]:
    """`mutant` applied to `tree` for the duration of the block, then the file restored."""
    path = tree / mutant.path
    text = check_applies(tree, mutant)
    path.write_text(text.replace(mutant.original, mutant.replacement), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(text, encoding="utf-8")


def run_tests(tree: Path, tests: Sequence[str], *, first_failure: bool) -> tuple[int, tuple[str, ...]]:
    """Run `tests` in `tree` with this interpreter; return pytest's exit code and the failed test ids."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *tests]
    if first_failure:
        command.append("-x")
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    failed = tuple(m.group(1) for m in re.finditer(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE))
    return done.returncode, failed


def check_imports_resolve_to(tree: Path) -> None:
    """The copy's code must be what runs (not the editable install of the working tree)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    found = subprocess.run([sys.executable, "-c", "import infra; print(infra.__file__)"], cwd=tree, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"`infra` resolves to {found}, not to the copy in {tree}")


def mutate(mutants: Sequence[Mutant], *, source: Path = ROOT, first_failure: bool = True,
           say: bool = True) -> list[Result]:
    """Copy `source`, check its tests pass unmutated, then run each mutant; the results in order."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="slotstack-mutants-") as temporary:
        tree = Path(temporary)
        copy_tree(source, tree)
        for mutant in mutants:
            check_applies(tree, mutant)
        check_imports_resolve_to(tree)
        baseline = sorted({t for m in mutants for t in m.tests})
        code, failed = run_tests(tree, baseline, first_failure=True)
        if code != 0:
            raise RuntimeError(f"the unmutated tests fail (exit {code}: {', '.join(failed) or 'see pytest'}); "
                               "fix them before mutating")
        for mutant in mutants:
            started = time.monotonic()
            with applied(tree, mutant):
                code, failed = run_tests(tree, mutant.tests, first_failure=first_failure)
            result = Result(mutant, code != 0, failed, time.monotonic() - started)
            results.append(result)
            if say:
                print(describe(result), flush=True)
    return results


def describe(result: Result) -> str:
    """One line per mutant: killed (by which tests) or survived."""
    verdict = "killed" if result.killed else "SURVIVED"
    killers = f" by {', '.join(result.failed)}" if result.failed else ""
    return f"{verdict:8} {result.mutant.name:32} {result.seconds:5.1f}s{killers}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutate.py", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests")
    parser.add_argument("--all-failures", action="store_true", help="run every test of a mutant (default: stop "
                        "at the first failure)")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:32} {m.path:36} {' '.join(m.tests)}")
        return 0
    known = {m.name: m for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutants {unknown}; choose from {', '.join(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(MUTANTS)
    try:
        results = mutate(chosen, first_failure=not args.all_failures)
    except (StaleMutant, RuntimeError) as exc:
        print(f"mutate: {exc}", file=sys.stderr)
        return 2
    survivors = [r.mutant.name for r in results if not r.killed]
    print(f"{len(results) - len(survivors)} of {len(results)} mutants killed"
          + (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
