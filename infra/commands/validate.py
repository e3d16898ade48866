"""`slotstack validate [ENV ...]`: check environment files without touching any cloud."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra import environment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check environment files (all committed ones when none is named)",
        description="Validate environments/Pulumi.<env>.yaml files and list every problem at once; warn about "
                    "what the subscription must request first (access-restricted regions).",
    )
    parser.add_argument("envs", nargs="*", metavar="ENV",
                        help="environment name (dev, staging, prod, local) or a path to a Pulumi.<env>.yaml")
    parser.set_defaults(func=run)


def _resolve(name: str) -> Path:
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return environment.path_of(name)


def run(args: argparse.Namespace) -> int:
    names = args.envs or environment.available()
    failed = 0
    for name in names:
        path = _resolve(name)
        try:
            env = environment.load_file(path)
        except environment.InvalidEnvironment as exc:
            failed += 1
            for line in exc.problems:
                print(line)
            continue
        for line in env.warnings:
            print(f"warning: {line}")
        cells = ", ".join(f"{c.name} ({c.primary_region}/{c.secondary_region}, {c.aws_region})"
                          for c in env.cells.values())
        print(f"{env.source}: ok: {len(env.cells)} cell(s): {cells}")
    if failed:
        print(f"{failed} of {len(names)} environment(s) invalid")
        return 1
    return 0
