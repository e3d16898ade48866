"""The monitor's configuration: load a YAML file once, validate everything, return frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from uptime.configparse import ConfigError, Section
from uptime.flapping import FlapPolicy
from uptime.notify import validate_channel
from uptime.notify.base import Channel
from uptime.schedule import (
    EscalationPolicy,
    MaintenanceWindow,
    OnCall,
    Person,
    load_escalation,
    load_maintenance,
    load_oncall,
    load_people,
)
from uptime.targets import NAME, DnsCheck, Heartbeat, JsonCheck, Target, check_url, load_targets

__all__ = ["Channel", "Config", "ConfigError", "DnsCheck", "Heartbeat", "JsonCheck", "Monitor", "Target", "Thresholds",
           "load", "parse"]

CHANNEL_TYPES = ("email", "twilio", "acs_sms", "sns", "webhook", "outbox", "pagerduty", "opsgenie", "slack", "teams")


@dataclass(frozen=True)
class Thresholds:
    """Consecutive failures before down, successes before up, locations that must agree."""

    down_after: int = 2
    up_after: int = 2
    quorum: int = 1
    group_wait: float = 0.0
    flapping: FlapPolicy = field(default_factory=FlapPolicy)


@dataclass(frozen=True)
class Monitor:
    """Where the monitor keeps its state and how it is reached."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8470
    public_url: str = "http://127.0.0.1:8470"
    database: str = "uptime.db"
    status_dir: str = "status"
    runbook_url: str = ""
    ack_secret_env: str = "UPTIME_ACK_SECRET"  # noqa: S105 - the variable's name, not a secret
    agent_key_env: str = "UPTIME_AGENT_KEY"
    alertmanager_token_env: str = "UPTIME_ALERTMANAGER_TOKEN"  # noqa: S105 - the variable's name
    concurrency: int = 32
    locations: tuple[str, ...] = ("local",)
    location: str = "local"
    agent_silence: float = 300.0
    product: str = "slotstack"
    probe_locally: bool = True


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    monitor: Monitor
    thresholds: Thresholds
    targets: tuple[Target, ...]
    channels: dict[str, Channel]
    people: dict[str, Person]
    oncall: OnCall | None
    escalation: EscalationPolicy
    maintenance: tuple[MaintenanceWindow, ...]
    source: str = ""

    def cells(self) -> list[str]:
        """The cells in the order they first appear among targets."""
        return list(dict.fromkeys(t.cell for t in self.targets))

    def cell_targets(self, cell: str) -> list[Target]:
        """The targets of one cell."""
        return [t for t in self.targets if t.cell == cell]


def load(path: str | Path) -> Config:
    """Read and validate a YAML config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}; check the --config path") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse(data, source=str(path))


def parse(data: Any, source: str = "<config>") -> Config:
    """Validate a parsed YAML document."""
    root = Section(data if data is not None else {}, "")
    root.reject_unknown(
        ["monitor", "thresholds", "defaults", "targets", "channels", "people", "oncall", "escalation",
         "maintenance"]
    )
    monitor = _monitor(root.sub("monitor", {}))
    thresholds = _thresholds(root.sub("thresholds", {}), len(monitor.locations))
    targets = load_targets(root, root.sub("defaults", {}))
    channels = _channels(root.sub("channels", {}))
    people = load_people(root.sub("people", {}))
    oncall = load_oncall(root.sub("oncall"), people) if root.has("oncall") else None
    escalation = load_escalation(root.sub("escalation", {"steps": []}), people, channels, oncall)
    maintenance = load_maintenance(root.raw("maintenance", []), {t.cell for t in targets})
    return Config(monitor, thresholds, targets, channels, people, oncall, escalation, maintenance, source)


def _monitor(sec: Section) -> Monitor:
    sec.reject_unknown(
        ["listen", "public_url", "database", "status_dir", "runbook_url", "ack_secret_env", "agent_key_env",
         "alertmanager_token_env", "concurrency", "locations", "location", "agent_silence", "product",
         "probe_locally"]
    )
    listen = sec.text("listen", "127.0.0.1:8470")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{sec.key('listen')}: {listen!r} is not HOST:PORT (e.g. 127.0.0.1:8470)")
    locations = tuple(sec.str_list("locations", ["local"]))
    location = sec.text("location", locations[0])
    if location not in locations:
        raise ConfigError(f"{sec.key('location')}: {location!r} is not one of monitor.locations {locations}")
    public_url = sec.text("public_url", f"http://{listen}").rstrip("/")
    check_url(public_url, sec.key("public_url"))
    return Monitor(
        listen_host=host, listen_port=int(port), public_url=public_url,
        database=sec.text("database", "uptime.db"), status_dir=sec.text("status_dir", "status"),
        runbook_url=sec.text("runbook_url", "") if sec.has("runbook_url") else "",
        ack_secret_env=sec.text("ack_secret_env", "UPTIME_ACK_SECRET"),
        agent_key_env=sec.text("agent_key_env", "UPTIME_AGENT_KEY"),
        alertmanager_token_env=sec.text("alertmanager_token_env", "UPTIME_ALERTMANAGER_TOKEN"),
        concurrency=sec.integer("concurrency", 32, 1, 4096), locations=locations, location=location,
        agent_silence=sec.duration("agent_silence", "5m", 10), product=sec.text("product", "slotstack"),
        probe_locally=sec.flag("probe_locally", True),
    )


def _thresholds(sec: Section, n_locations: int) -> Thresholds:
    sec.reject_unknown(["down_after", "up_after", "quorum", "group_wait", "flapping"])
    quorum = sec.integer("quorum", 1, 1, 1000)
    if quorum > n_locations:
        raise ConfigError(
            f"{sec.key('quorum')}: {quorum} is more than the {n_locations} location(s) in monitor.locations; "
            f"allowed 1..{n_locations}"
        )
    return Thresholds(
        down_after=sec.integer("down_after", 2, 1, 100), up_after=sec.integer("up_after", 2, 1, 100),
        quorum=quorum, group_wait=sec.duration("group_wait", "0s"), flapping=_flapping(sec.sub("flapping", {})),
    )


def _flapping(sec: Section) -> FlapPolicy:
    sec.reject_unknown(["window", "low", "high"])
    default = FlapPolicy()
    low, high = (sec.raw(name, getattr(default, name)) for name in ("low", "high"))
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            raise ConfigError(f"{sec.key(name)}: {value!r} is not a percentage in (0, 100]")
    if low >= high:
        raise ConfigError(f"{sec.key('low')}: {low} must be below flapping.high {high} (the hysteresis band)")
    return FlapPolicy(window=sec.integer("window", default.window, 4, 100), low=float(low), high=float(high))


def _channels(sec: Section) -> dict[str, Channel]:
    channels = {}
    for name, options in sec.data.items():
        key = sec.key(str(name))
        if not isinstance(name, str) or not re.fullmatch(NAME, name):
            raise ConfigError(f"{key}: {name!r} is not a valid channel name (lowercase letters, digits, -_.)")
        opts = Section(options, key)
        kind = opts.text("type")
        if kind not in CHANNEL_TYPES:
            allowed = ", ".join(CHANNEL_TYPES)
            raise ConfigError(f"{opts.key('type')}: {kind!r} is not a channel type; allowed: {allowed}")
        channel = Channel(name, kind, dict(opts.data))
        validate_channel(channel)
        channels[name] = channel
    return channels
