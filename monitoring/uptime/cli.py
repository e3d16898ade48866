"""The ``uptime`` command: one function per subcommand, one error type mapped to an exit code."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from uptime import config as configmod
from uptime import incidents, notify
from uptime.clock import SystemClock, utc
from uptime.configparse import ConfigError, parse_duration
from uptime.core import Core, UptimeError
from uptime.notice import Notice
from uptime.schedule import is_e164
from uptime.store import Store

EXIT_CONFIG, EXIT_FAILED = 2, 1


def _config(args: argparse.Namespace) -> configmod.Config:
    path = getattr(args, "config_file", None) or args.config or os.environ.get("UPTIME_CONFIG")
    if not path:
        raise ConfigError("no configuration given; pass --config FILE or set UPTIME_CONFIG")
    return configmod.load(path)


def _core(cfg: configmod.Config) -> Core:
    return Core(cfg, Store(cfg.monitor.database), SystemClock())


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a config and say what it contains; missing secret variables are reported too."""
    cfg = _config(args)
    print(f"{cfg.source}: OK: {len(cfg.targets)} targets in cells {', '.join(cfg.cells())}; "
          f"channels {', '.join(cfg.channels) or 'none'}; {len(cfg.escalation.steps)} escalation steps; "
          f"{len(cfg.maintenance)} maintenance windows")
    missing = 0
    for channel in cfg.channels.values():
        for key, var in channel.options.items():
            if key.endswith("_env") and not os.environ.get(str(var)):
                print(f"warning: channels.{channel.name}.{key}: environment variable {var} is not set "
                      f"(needed by `uptime run`)")
                missing += 1
    return EXIT_FAILED if missing and args.strict else 0


def cmd_run(args: argparse.Namespace) -> int:
    """Probe, page and serve until SIGINT/SIGTERM."""
    from uptime.service import Service

    cfg = _config(args)
    host = port = None
    if args.listen:
        host, _, port_text = args.listen.rpartition(":")
        if not host or not port_text.isdigit():
            raise ConfigError(f"--listen {args.listen!r} is not HOST:PORT (e.g. 127.0.0.1:8470)")
        port = int(port_text)
    service = Service(cfg, host=host, port=port)
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    print(f"uptime: listening on http://{host or cfg.monitor.listen_host}:{service.server.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        service.run(args.duration)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Current state per cell and open incidents, from the database."""
    cfg = _config(args)
    core = _core(cfg)
    now = core.clock.now()
    cells: list[dict[str, Any]] = [
        {"cell": v.cell, "down": v.down, "total": v.total, "incident": v.incident_id,
         "unknown": list(v.unknown), "flapping": v.flapping,
         "paging_suppressed": core.suppressed(v.cell, now)} for v in core.cells()]
    with core.store.lock:
        open_now = incidents.all_open(core.store.conn)
    listed: list[dict[str, Any]] = [
        {"id": i.id, "cell": i.cell, "since": i.since, "acked_at": i.acked_at, "acked_by": i.acked_by,
         "targets": json.dumps(list(i.targets)), "flapping": i.flapping} for i in open_now]
    if args.json:
        print(json.dumps({"cells": cells, "open_incidents": listed}, indent=1))
        return 0
    for cell in cells:
        state = f"DOWN ({len(cell['down'])}/{cell['total']}: {', '.join(cell['down'])})" if cell["down"] else "up"
        if cell["flapping"]:
            state = f"FLAPPING ({', '.join(cell['down']) or 'settling'})"
        if cell["unknown"]:
            state += f"; not probed since the monitor or an agent was away: {', '.join(cell['unknown'])}"
        quiet = f" [not paging: {cell['paging_suppressed']}]" if cell["paging_suppressed"] else ""
        print(f"{cell['cell']:<8} {state}{quiet}")
    for row in listed:
        ack = f"acknowledged by {row['acked_by']}" if row["acked_at"] else "NOT acknowledged"
        print(f"incident {row['id']}: {row['cell']} since {utc(row['since']):%Y-%m-%d %H:%M} UTC, {ack}")
    if not listed:
        print("no open incidents")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    """Acknowledge an incident (stops escalation and reminders)."""
    core = _core(_config(args))
    fresh = core.ack(args.incident, args.by)
    print(f"incident {args.incident} {'acknowledged' if fresh else 'was already acknowledged'}")
    return 0


def cmd_silence(args: argparse.Namespace) -> int:
    """Silence a cell for a while: failures are recorded, nobody is paged."""
    core = _core(_config(args))
    start = dt.datetime.fromisoformat(args.start).timestamp() if args.start else core.clock.now()
    end = start + parse_duration(args.duration, "--duration")
    silence = core.silence(args.cell, start, end, args.reason, args.by)
    print(f"silence {silence}: {args.cell} until {utc(end):%Y-%m-%d %H:%M} UTC ({args.reason})")
    return 0


def cmd_test_notify(args: argparse.Namespace) -> int:
    """Send a test message through one channel."""
    cfg = _config(args)
    channel = cfg.channels.get(args.channel)
    if channel is None:
        raise ConfigError(f"channel {args.channel!r} is not configured; known: {', '.join(cfg.channels)}")
    if channel.kind != "webhook" and not args.to:
        raise ConfigError(f"channel {args.channel} sends {channel.kind}: pass --to ADDRESS")
    if channel.kind == "sms" and not is_e164(args.to):
        raise ConfigError(f"--to {args.to!r} is not an E.164 phone number; write it with + and the country code, "
                          "e.g. +15550100")
    if channel.kind == "email" and "@" not in args.to:
        raise ConfigError(f"--to {args.to!r} is not an email address")
    notice = Notice(incident_id=0, cell="test", event="test", resolved=False, down=0, total=0,
                    since=SystemClock().now(), product=cfg.monitor.product)
    notify.build(channel).send(notice, args.to)
    print(f"test notification sent via {args.channel}")
    return 0


def cmd_heartbeat_url(args: argparse.Namespace) -> int:
    """Print the URL a job calls when it succeeded (append /fail to report a failure)."""
    from uptime import heartbeat
    from uptime.service import ack_secret

    cfg = _config(args)
    beats = [t.name for t in cfg.targets if t.type == "heartbeat"]
    if args.name not in beats:
        raise ConfigError(f"{args.name!r} is not a heartbeat check; heartbeats: {', '.join(beats) or 'none'}")
    store = Store(cfg.monitor.database)
    try:
        # The same key as the running monitor's: from the environment, else the one kept in its database.
        secret = ack_secret(store, cfg, os.environ)
    finally:
        store.close()
    print(heartbeat.url(cfg, args.name, secret))
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """Run a probe agent that reports to the core."""
    from uptime.agent import Agent

    host, _, port = (args.listen or "127.0.0.1:0").rpartition(":")
    agent = Agent(_config(args), args.core, args.location, os.environ, args.peer, args.stagger, (host, int(port)))
    signal.signal(signal.SIGTERM, lambda *_: agent.stop_event.set())
    print(f"uptime agent {args.location}: peer endpoint on port {agent.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        agent.run(args.duration)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write Prometheus, blackbox_exporter and Alertmanager files for this config."""
    from uptime import promexport

    cfg = _config(args)
    files = promexport.write(cfg, args.out, args.monitor_url, args.blackbox, args.alertmanager, args.token_file)
    for path in files:
        print(path)
    limits = promexport.limits(cfg)
    for severity, message in limits:
        print(f"{'not exported' if severity == 'cannot' else 'approximated'}: {message}", file=sys.stderr)
    if args.strict and any(severity == "cannot" for severity, _ in limits):
        print("error: some checks cannot be exported (see above); keep them on the uptime monitor, or export "
              "without --strict", file=sys.stderr)
        return EXIT_FAILED
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (public so docs and tests can list the commands)."""
    top = argparse.ArgumentParser(prog="uptime", description="slotstack uptime monitor")
    top.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", help="config file (default $UPTIME_CONFIG)")
        p.set_defaults(func=func)
        return p

    p = command("check", cmd_check, "validate a config file")
    p.add_argument("config_file", nargs="?", metavar="CONFIG")
    p.add_argument("--strict", action="store_true", help="fail when secret environment variables are missing")
    p = command("run", cmd_run, "probe, page and serve /metrics, /ack and /status")
    p.add_argument("--listen", help="HOST:PORT, overrides monitor.listen (port 0 picks a free port)")
    p.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    p = command("status", cmd_status, "show cells and open incidents")
    p.add_argument("--json", action="store_true")
    p = command("ack", cmd_ack, "acknowledge an incident")
    p.add_argument("incident", type=int)
    p.add_argument("--by", default=os.environ.get("USER", "cli"))
    p = command("silence", cmd_silence, "silence a cell for a duration")
    p.add_argument("--cell", required=True)
    p.add_argument("--duration", required=True, help="e.g. 30m, 2h")
    p.add_argument("--reason", required=True)
    p.add_argument("--start", help="ISO time with offset; default now")
    p.add_argument("--by", default=os.environ.get("USER", "cli"))
    p = command("test-notify", cmd_test_notify, "send a test message through a channel")
    p.add_argument("channel")
    p.add_argument("--to", help="phone number or email address")
    p = command("heartbeat-url", cmd_heartbeat_url, "print the URL a heartbeat's job calls")
    p.add_argument("name")
    p = command("agent", cmd_agent, "run a probe agent at a vantage point")
    p.add_argument("--core", required=True, help="URL of the core, e.g. https://uptime.example.com")
    p.add_argument("--location", required=True)
    p.add_argument("--peer", action="append", default=[], help="URL of another agent's peer endpoint")
    p.add_argument("--stagger", type=float, default=30.0, help="seconds between agents' fallback pages")
    p.add_argument("--listen", help="HOST:PORT of this agent's peer endpoint")
    p.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    p = command("export", cmd_export, "generate files for an external stack")
    p.add_argument("what", choices=["prometheus"])
    p.add_argument("--out", required=True)
    p.add_argument("--monitor-url", help="URL Alertmanager uses for the monitor (default monitor.public_url)")
    p.add_argument("--blackbox", default="127.0.0.1:9115", help="blackbox_exporter address per location")
    p.add_argument("--alertmanager", default="127.0.0.1:9093", help="Alertmanager address for Prometheus")
    p.add_argument("--token-file", default="/etc/alertmanager/uptime_token",
                   help="file Alertmanager reads the monitor's webhook bearer token from")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check cannot be exported")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 failed, 2 bad config or input)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (ConfigError, UptimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except notify.NotifyError as exc:
        print(f"error: {exc}; check the channel's settings and that the provider is reachable", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
