"""Targets (checks) in the configuration: their types, and reading and validating ``targets`` and ``defaults``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from uptime.configparse import ConfigError, Section

NAME = r"[a-z0-9][a-z0-9_.-]{0,62}"


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


_URL_EXAMPLES = {"http": "https://eu.example.com/healthz", "tcp": "tcp://db.eu.example.com:5432",
                 "tls": "tls://smtp.eu.example.com:465", "dns": "dns://1.1.1.1:53"}


def check_url(url: str, key: str, kind: str = "http") -> None:
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


def load_targets(root: Section, defaults: Section) -> tuple[Target, ...]:
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
        check_url(url, sec.key("url"), kind)
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
