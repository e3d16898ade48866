"""The monitor's configuration: load a YAML file once, validate everything, return frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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

__all__ = ["Channel", "Config", "ConfigError", "Monitor", "Target", "Thresholds", "load", "parse"]

NAME = r"[a-z0-9][a-z0-9_.-]{0,62}"
CHANNEL_TYPES = ("email", "twilio", "acs_sms", "sns", "webhook", "outbox", "pagerduty", "opsgenie", "slack", "teams")


@dataclass(frozen=True)
class JsonCheck:
    """A JSON body check: the value at a dotted ``path`` must equal ``equals``."""

    path: str
    equals: Any


@dataclass(frozen=True)
class DnsCheck:
    """A DNS check: ``name``'s ``record`` set, asked of the server in the target's URL, must contain ``expect``."""

    name: str
    record: str = "A"
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Heartbeat:
    """A push check: the job pings at least every ``every`` seconds; later than ``grace`` after that it fails."""

    every: float
    grace: float


CHECK_TYPES = ("http", "tcp", "tls", "dns", "heartbeat")
URL_SCHEMES = {"http": ("http", "https"), "tcp": ("tcp",), "tls": ("tls",), "dns": ("dns",)}
DNS_RECORDS = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SRV", "CAA", "PTR", "SOA")


@dataclass(frozen=True)
class Target:
    """One check of one cell: HTTP(S) (the default), TCP connect, TLS on any port, DNS, or a heartbeat."""

    name: str
    cell: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: tuple[int, ...] = (200,)
    body_contains: str | None = None
    body_regex: str | None = None
    json: JsonCheck | None = None
    latency_budget: float | None = None
    cert_warn_days: int = 21
    cert_critical_days: int = 7
    interval: float = 30.0
    timeout: float = 10.0
    ca_file: str | None = None
    type: str = "http"
    dns: DnsCheck | None = None
    heartbeat: Heartbeat | None = None


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
    targets = _targets(root, root.sub("defaults", {}))
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
    _check_url(public_url, sec.key("public_url"))
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


_URL_EXAMPLES = {"http": "https://eu.example.com/healthz", "tcp": "tcp://db.eu.example.com:5432",
                 "tls": "tls://smtp.eu.example.com:465", "dns": "dns://1.1.1.1:53"}


def _check_url(url: str, key: str, kind: str = "http") -> None:
    parts = urlsplit(url)
    schemes = URL_SCHEMES[kind]
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in schemes or not parts.hostname or (kind in ("tcp", "tls") and not port):
        port_part = "" if kind == "dns" else ":PORT"
        need = "an http(s) URL with a host" if kind == "http" else f"a {schemes[0]}://HOST{port_part} URL"
        raise ConfigError(f"{key}: {url!r} is not {need} (e.g. {_URL_EXAMPLES[kind]})")


def _targets(root: Section, defaults: Section) -> tuple[Target, ...]:
    defaults.reject_unknown(["interval", "timeout", "cert_warn_days", "cert_critical_days", "expect_status"])
    raw = root.raw("targets")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"targets: expected a non-empty list of targets, got {raw!r}")
    seen: set[str] = set()
    targets = []
    for index, item in enumerate(raw):
        sec = Section(item, f"targets[{index}]")
        target = _target(sec, defaults)
        if target.name in seen:
            raise ConfigError(f"{sec.key('name')}: {target.name!r} is used twice; target names must be unique")
        seen.add(target.name)
        targets.append(target)
    return tuple(targets)


def _target(sec: Section, defaults: Section) -> Target:
    sec.reject_unknown(
        ["name", "cell", "url", "method", "headers", "expect_status", "body_contains", "body_regex", "json",
         "latency_budget", "cert_warn_days", "cert_critical_days", "interval", "timeout", "ca_file", "type", "dns",
         "every", "grace"]
    )
    name = sec.text("name", pattern=NAME)
    kind = sec.text("type", "http")
    if kind not in CHECK_TYPES:
        raise ConfigError(f"{sec.key('type')}: {kind!r} is not a check type; allowed: {', '.join(CHECK_TYPES)}")
    if kind != "http":
        _only_http(sec, kind)
    heartbeat = None
    if kind == "heartbeat":
        if sec.has("url"):
            raise ConfigError(f"{sec.key('url')}: a heartbeat has no URL to probe; the job calls the monitor "
                              "(`uptime heartbeat-url NAME` prints the address)")
        url = f"heartbeat://{name}"
        every = sec.duration("every", minimum=1)
        heartbeat = Heartbeat(every, sec.duration("grace", f"{max(every * 0.1, 60):g}s"))
    else:
        for key in ("every", "grace"):
            if sec.has(key):
                raise ConfigError(f"{sec.key(key)}: only a heartbeat (type: heartbeat) has {key}")
        url = sec.text("url")
        _check_url(url, sec.key("url"), kind)
    dns = _dns(sec) if kind == "dns" else None
    if kind != "dns" and sec.has("dns"):
        raise ConfigError(f"{sec.key('dns')}: only a DNS check (type: dns) has dns settings")
    method = sec.text("method", "GET").upper()
    if method not in ("GET", "HEAD", "POST", "PUT", "OPTIONS"):
        raise ConfigError(f"{sec.key('method')}: {method!r} not allowed; use GET, HEAD, POST, PUT or OPTIONS")
    headers = sec.sub("headers", {}).data
    if not all(isinstance(k, str) and isinstance(v, str | int) for k, v in headers.items()):
        raise ConfigError(f"{sec.key('headers')}: expected a mapping of header name to string value")
    statuses = sec.raw("expect_status", defaults.raw("expect_status", [200]))
    statuses = [statuses] if isinstance(statuses, int) else statuses
    if not isinstance(statuses, list) or not statuses or not all(
        isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses
    ):
        raise ConfigError(f"{sec.key('expect_status')}: {statuses!r} must be HTTP status codes 100..599")
    regex = sec.opt_str("body_regex")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ConfigError(f"{sec.key('body_regex')}: {regex!r} is not a valid regex: {exc}") from exc
    json_check = None
    if sec.has("json"):
        js = sec.sub("json")
        js.reject_unknown(["path", "equals"])
        if "equals" not in js.data:
            raise ConfigError(f"{js.key('equals')}: required (the value expected at json.path)")
        json_check = JsonCheck(js.text("path", pattern=r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*"), js.data["equals"])
    interval = sec.duration("interval", defaults.raw("interval", "30s"), minimum=1)
    timeout = sec.duration("timeout", defaults.raw("timeout", "10s"), minimum=0.05)
    if timeout > interval:
        raise ConfigError(f"{sec.key('timeout')}: {timeout:g}s is longer than the interval {interval:g}s")
    warn = sec.integer("cert_warn_days", defaults.raw("cert_warn_days", 21), 0, 3650)
    critical = sec.integer("cert_critical_days", defaults.raw("cert_critical_days", 7), 0, 3650)
    if critical > warn:
        raise ConfigError(f"{sec.key('cert_critical_days')}: {critical} exceeds cert_warn_days {warn}")
    ca_file = sec.opt_str("ca_file")
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"{sec.key('ca_file')}: {ca_file!r} is not a readable file")
    return Target(
        name=name, cell=sec.text("cell", pattern=NAME), url=url, method=method,
        headers={k: str(v) for k, v in headers.items()}, expect_status=tuple(statuses),
        body_contains=sec.opt_str("body_contains"), body_regex=regex, json=json_check,
        latency_budget=sec.duration("latency_budget") if sec.has("latency_budget") else None,
        cert_warn_days=warn, cert_critical_days=critical, interval=interval, timeout=timeout, ca_file=ca_file,
        type=kind, dns=dns, heartbeat=heartbeat,
    )


_HTTP_ONLY = ("method", "headers", "expect_status", "body_contains", "body_regex", "json", "latency_budget")


def _only_http(sec: Section, kind: str) -> None:
    for key in _HTTP_ONLY:
        if sec.has(key):
            raise ConfigError(f"{sec.key(key)}: {key} applies to HTTP checks; this target is type {kind}")


def _dns(sec: Section) -> DnsCheck:
    dns = sec.sub("dns")
    dns.reject_unknown(["name", "record", "expect"])
    record = dns.text("record", "A").upper()
    if record not in DNS_RECORDS:
        raise ConfigError(f"{dns.key('record')}: {record!r} is not a record type; allowed: {', '.join(DNS_RECORDS)}")
    return DnsCheck(dns.text("name"), record, tuple(dns.str_list("expect", [])))


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
