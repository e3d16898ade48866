"""The HTTP(S) prober: one request, checks, latency, the leaf certificate, a classified failure."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from uptime import __version__
from uptime.checks import PROBERS
from uptime.result import KINDS, Result, cert_expiry
from uptime.targets import Target

__all__ = ["KINDS", "Result", "cert_expiry", "probe", "user_agent"]

# urllib3 2 raises NameResolutionError; older releases surface the raw gaierror.
_NAME_ERRORS: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(urllib3.exceptions, "NameResolutionError", None), socket.gaierror) if isinstance(t, type)
)
MAX_BODY = 1 << 20  # a health endpoint larger than 1 MiB is itself a finding; stop reading there


def probe(target: Target, location: str = "local", now: float | None = None) -> Result:
    """Probe ``target`` once; never raises for a failing target."""
    started = time.time() if now is None else now
    if target.type != "http":
        return PROBERS[target.type](target, location, started)
    t0 = time.perf_counter()
    status: int | None = None
    expiry: float | None = None
    try:
        response = _request(target, location)
        try:
            status = response.status_code
            expiry = _leaf_expiry_from(response)
            body = _read(response, target.timeout - (time.perf_counter() - t0))
        finally:
            response.close()
    except _Failure as failure:
        if failure.kind == "tls" and target.url.startswith("https"):
            expiry = _fetch_leaf_expiry(target)
        return Result(target.name, target.cell, location, started, False, time.perf_counter() - t0,
                      failure.kind, str(failure), status, expiry)
    duration = time.perf_counter() - t0
    kind, error = _check(target, status, body, duration)
    warning = ""
    if expiry is not None and kind is None:
        days = (expiry - started) / 86400
        if days < target.cert_critical_days:
            kind, error = "tls", f"certificate expires in {days:.1f} days (critical below {target.cert_critical_days})"
        elif days < target.cert_warn_days:
            warning = f"certificate expires in {days:.1f} days (warning below {target.cert_warn_days})"
    return Result(target.name, target.cell, location, started, kind is None, duration, kind, error, status,
                  expiry, warning)


class _Failure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _CertConnection(urllib3.connection.HTTPSConnection):
    """Remembers the leaf certificate right after the handshake (HTTP/1.0 servers close the socket early)."""

    peer_der: bytes | None = None

    def connect(self) -> None:
        super().connect()
        if isinstance(self.sock, ssl.SSLSocket):
            self.peer_der = self.sock.getpeercert(binary_form=True)


class _CertPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _CertConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": urllib3.HTTPConnectionPool, "https": _CertPool}


def _session() -> requests.Session:
    # A fresh session per probe: every probe opens its own connection, as blackbox_exporter does.
    session = requests.Session()
    session.mount("https://", _Adapter())
    session.mount("http://", HTTPAdapter())
    return session


def user_agent(location: str) -> str:
    """What probes say they are, so target owners can tell monitor traffic (and its vantage point) apart."""
    return f"slotstack-uptime/{__version__} (location={location})"


def _request(target: Target, location: str) -> requests.Response:
    verify: Any = target.ca_file or True
    headers = {"User-Agent": user_agent(location), **target.headers}
    try:
        with _session() as session:
            return session.request(
                target.method, target.url, headers=headers, timeout=target.timeout, stream=True,
                verify=verify, allow_redirects=False,
            )
    except requests.exceptions.SSLError as exc:
        raise _Failure("tls", _reason(exc)) from exc
    except requests.exceptions.Timeout as exc:
        raise _Failure("timeout", f"no answer within {target.timeout:g}s") from exc
    except requests.exceptions.ConnectionError as exc:
        if _caused_by(exc, *_NAME_ERRORS):
            raise _Failure("dns", f"cannot resolve {urlsplit(target.url).hostname}") from exc
        raise _Failure("connect", _reason(exc)) from exc
    except requests.RequestException as exc:
        raise _Failure("connect", _reason(exc)) from exc


def _caused_by(exc: BaseException, *types: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # bounded walk down the cause chain and urllib3's wrapped reason
        if seen is None:
            return False
        if isinstance(seen, types):
            return True
        if isinstance(seen.args[0] if seen.args else None, BaseException):
            inner = seen.args[0]
            if isinstance(inner, types) or _caused_by_reason(inner, types):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


def _caused_by_reason(exc: BaseException, types: tuple[type[BaseException], ...]) -> bool:
    reason = getattr(exc, "reason", None)
    return isinstance(reason, types)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for pattern in (r"\[SSL: [A-Z_]+\] [^(]+", r"\[Errno \d+\] [^'\")]+", r"certificate verify failed: [^(]+"):
        match = re.search(pattern, text)
        if match:
            return match[0].strip()
    return text[:200]


def _read(response: requests.Response, remaining: float) -> bytes:
    deadline = time.perf_counter() + max(remaining, 0.0)
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(16384):
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_BODY:
                break
            if time.perf_counter() > deadline:
                raise _Failure("timeout", "body not complete within the timeout")
    except requests.exceptions.ConnectionError as exc:
        if _caused_by(exc, TimeoutError, socket.timeout, urllib3.exceptions.ReadTimeoutError):
            raise _Failure("timeout", "body not complete within the timeout") from exc
        raise _Failure("connect", f"connection broken while reading the body: {_reason(exc)}") from exc
    except requests.exceptions.Timeout as exc:
        raise _Failure("timeout", "body not complete within the timeout") from exc
    return b"".join(chunks)


def _check(target: Target, status: int | None, body: bytes, duration: float) -> tuple[str | None, str]:
    if status not in target.expect_status:
        allowed = ", ".join(str(s) for s in target.expect_status)
        return "status", f"HTTP {status}, expected {allowed}"
    text = body.decode("utf-8", "replace")
    if target.body_contains is not None and target.body_contains not in text:
        return "body", f"body does not contain {target.body_contains!r}"
    if target.body_regex is not None and not re.search(target.body_regex, text):
        return "body", f"body does not match /{target.body_regex}/"
    if target.json is not None:
        found = _json_path(text, target.json.path)
        if found != target.json.equals:
            return "body", f"JSON {target.json.path} is {found!r}, expected {target.json.equals!r}"
    if target.latency_budget is not None and duration > target.latency_budget:
        return "latency", f"took {duration:.2f}s, budget {target.latency_budget:g}s"
    return None, ""


def _json_path(text: str, path: str) -> Any:
    try:
        value: Any = json.loads(text)
    except ValueError:
        return "<not JSON>"
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _leaf_expiry_from(response: requests.Response) -> float | None:
    """The leaf certificate the server presented on this very connection."""
    der = getattr(getattr(response.raw, "connection", None), "peer_der", None)
    return _expiry(der) if der else None


def _fetch_leaf_expiry(target: Target) -> float | None:
    """After a TLS failure, read the leaf anyway (unverified) so the expiry metric stays truthful."""
    parts = urlsplit(target.url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read-only look at the certificate; nothing is sent
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 443), timeout=target.timeout) as raw, \
                context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError:
        return None
    return _expiry(der) if der else None


_expiry = cert_expiry
