"""Probers for the checks that are not HTTP: TCP connect, TLS (handshake and certificate expiry) on any
port, and DNS (an answer, and the records it must contain). Each returns a :class:`Result` like the HTTP
prober and never raises for a failing target."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import dns.exception
import dns.resolver

from uptime.result import Result, cert_expiry
from uptime.targets import Target

Prober = Callable[[Target, str, float], Result]


def _result(target: Target, location: str, started: float, t0: float, kind: str | None = None, error: str = "",
            expiry: float | None = None, warning: str = "") -> Result:
    return Result(target.name, target.cell, location, started, kind is None, time.perf_counter() - t0, kind, error,
                  None, expiry, warning)


def _connect(target: Target) -> socket.socket:
    """An open TCP connection to the target's host and port, or an OSError naming the failure kind."""
    parts = urlsplit(target.url)
    return socket.create_connection((parts.hostname or "", parts.port or 0), timeout=target.timeout)


def _classify(exc: OSError, target: Target) -> tuple[str, str]:
    host = urlsplit(target.url).hostname
    if isinstance(exc, socket.gaierror):
        return "dns", f"cannot resolve {host}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout", f"no answer within {target.timeout:g}s"
    if isinstance(exc, ssl.SSLError):
        return "tls", getattr(exc, "verify_message", None) or exc.reason or str(exc)
    return "connect", exc.strerror or str(exc)


def probe_tcp(target: Target, location: str, started: float) -> Result:
    """Connect and close: the port accepts connections."""
    t0 = time.perf_counter()
    try:
        with _connect(target):
            pass
    except OSError as exc:
        return _result(target, location, started, t0, *_classify(exc, target))
    return _result(target, location, started, t0)


def probe_tls(target: Target, location: str, started: float) -> Result:
    """Connect, complete a verified TLS handshake (SNI = the host), and judge the leaf's expiry."""
    t0 = time.perf_counter()
    host = urlsplit(target.url).hostname or ""
    context = ssl.create_default_context(cafile=target.ca_file)
    try:
        with _connect(target) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        return _result(target, location, started, t0, *_classify(exc, target))
    expiry = cert_expiry(der) if der else None
    if expiry is None:
        return _result(target, location, started, t0, "tls", "the server presented no certificate")
    days = (expiry - started) / 86400
    if days < target.cert_critical_days:
        return _result(target, location, started, t0, "tls",
                       f"certificate expires in {days:.1f} days (critical below {target.cert_critical_days})", expiry)
    warning = f"certificate expires in {days:.1f} days (warning below {target.cert_warn_days})" \
        if days < target.cert_warn_days else ""
    return _result(target, location, started, t0, expiry=expiry, warning=warning)


def _normal(value: str) -> str:
    # Names compare without the root dot and case; TXT values without their quotes.
    return value.strip().strip('"').rstrip(".").lower()


def probe_dns(target: Target, location: str, started: float) -> Result:
    """Ask the server in the URL for ``dns.name``'s ``dns.record`` set; every ``dns.expect`` value must be in it."""
    t0 = time.perf_counter()
    check = target.dns
    if check is None:  # the config never builds a DNS target without its settings
        return _result(target, location, started, t0, "dns", "no dns settings")
    parts = urlsplit(target.url)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [parts.hostname or ""]
    resolver.port = parts.port or 53
    resolver.lifetime = target.timeout
    try:
        answer = resolver.resolve(check.name, check.record, raise_on_no_answer=True)
    except dns.resolver.NXDOMAIN:
        return _result(target, location, started, t0, "dns", f"{check.name} does not exist (NXDOMAIN)")
    except dns.resolver.NoAnswer:
        return _result(target, location, started, t0, "dns", f"{check.name} has no {check.record} record")
    except dns.exception.Timeout:
        return _result(target, location, started, t0, "timeout",
                       f"{parts.hostname} did not answer within {target.timeout:g}s")
    except (dns.exception.DNSException, OSError) as exc:
        return _result(target, location, started, t0, "dns", f"{type(exc).__name__}: {exc}"[:200])
    got = {_normal(record.to_text()) for record in answer}
    missing = [value for value in check.expect if _normal(value) not in got]
    if missing:
        return _result(target, location, started, t0, "dns",
                       f"{check.record} {check.name} is {', '.join(sorted(got))}; missing {', '.join(missing)}")
    return _result(target, location, started, t0)


PROBERS: dict[str, Prober] = {"tcp": probe_tcp, "tls": probe_tls, "dns": probe_dns}
