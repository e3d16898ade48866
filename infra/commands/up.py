"""`slotstack up [ENV]`: run an environment's cells, their databases, the monitor and sinks locally."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from infra.local.lifecycle import monitor_config, stack
from infra.local.paths import StateDir


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    """The --state-dir option every local-stack command shares."""
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="where data, logs, outbox, backups and state.json live (default: ./.slotstack)")


_T0 = time.monotonic()


def say(message: str) -> None:
    """A progress line with the seconds since the command started."""
    # One write per line, so lines from cells starting side by side never interleave.
    sys.stdout.write(f"[{time.monotonic() - _T0:5.1f}s] {message}\n")
    sys.stdout.flush()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run the environment on this machine (default: local)",
        description="Start every cell of ENV on this machine: a PostgreSQL primary and streaming replica, "
                    "the booking service and a demo tenant per cell, an SMTP sink, and the uptime monitor "
                    "probing every cell. Runs in the foreground until Ctrl-C unless --detach is given; "
                    "the next `up` reuses the data.",
    )
    parser.add_argument("env", nargs="?", default="local", metavar="ENV", help="environment name (default: local)")
    add_state_dir(parser)
    parser.add_argument("--port-base", type=int, default=None, metavar="N",
                        help="use ports N, N+1, ... instead of the environment's (SMTP, monitor, then 3 per cell)")
    parser.add_argument("--channels", type=Path, default=None, metavar="FILE",
                        help="YAML with real `email` and/or `sms` channels for the monitor (format of "
                             "monitoring/uptime.example.yaml) instead of the SMTP sink and the SMS outbox")
    parser.add_argument("--detach", action="store_true",
                        help="start everything, print the URLs and return; stop later with `slotstack down`")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state_dir = StateDir.at(args.state_dir)
    channels = monitor_config.load_channels(args.channels) if args.channels else None
    running, data = stack.up(args.env, state_dir, port_base=args.port_base, say=say, channels=channels)
    print(flush=True)
    print(stack.url_table(data), flush=True)
    print(flush=True)
    if args.detach:
        print(f"running in the background; stop with `slotstack down"
              f"{' --state-dir ' + str(state_dir.root) if args.state_dir else ''}`", flush=True)
        return 0
    print("press Ctrl-C to stop", flush=True)
    sys.stdout.flush()
    stack.serve_foreground(running, data, say)
    return 0
