"""`slotstack down`: stop the local stack started by `slotstack up` (its data stays)."""

from __future__ import annotations

import argparse

from infra.commands.up import add_state_dir, say
from infra.local.lifecycle import teardown
from infra.local.paths import StateDir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "down",
        help="stop the local stack",
        description="Stop every process of the local stack recorded in state.json (services, monitor, SMTP "
                    "sink, PostgreSQL). The data stays for the next `slotstack up`.",
    )
    add_state_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return teardown.down(StateDir.at(args.state_dir), say=say)
