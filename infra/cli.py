"""The `slotstack` command: one module per subcommand under infra/commands/.

Each command module exposes `register(subparsers)`, which adds its parser and sets `func` to a
function taking the parsed arguments and returning an exit code. Domain errors become exit code 1
with their message; nothing here prints a traceback for a mistake the user can fix.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from infra import commands
from infra.environment import InvalidEnvironment
from infra.errors import SlotstackError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slotstack",
        description="Provision, plan and run the slotstack booking SaaS, one environment at a time.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except InvalidEnvironment as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was changed.", file=sys.stderr)
        return exc.exit_code
    except SlotstackError as exc:
        print(f"slotstack: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("slotstack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
