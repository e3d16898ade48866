"""Fetching a calendar feed safely by construction.

One parse of the URL decides both what is checked and what is contacted; the host name is resolved once and the
connection goes to the address that passed the check (TLS still verifies the certificate against the name, and
the request carries the original Host). No redirect is followed, the whole fetch has one deadline and a size cap,
and no error carries a byte of what the feed sent.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from booking.calendars.addresses import Address, AddressPolicy, public_only
from booking.errors import Refused

MAX_URL = 2048
USER_AGENT = "slotstack-calendar-sync/1"
# host[:port] with nothing another parser could split differently: no user info, no percent-encoding, no
# backslash; an IPv6 literal only in brackets
NETLOC = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:@/?#\\%]+)(:[0-9]{1,5})?")
Resolver = Callable[[str, int], Sequence[Address]]


class FeedError(Refused):
    """The feed could not be used; the message says why in the service's own words, never the feed's."""


@dataclass(frozen=True)
class FeedUrl:
    """The one parsed form of a feed URL: what is checked is what is contacted."""

    scheme: str
    host: str
    port: int
    target: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def parse_feed_url(url: str) -> FeedUrl:
    """Parse an http(s) feed URL strictly; anything a different parser might read differently is refused."""
    if len(url) > MAX_URL:
        raise FeedError(f"the calendar url is longer than {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 0x20 or c in "\\\x7f" for c in url):
        raise FeedError("the calendar url contains a space, a control character or a backslash; percent-encode it")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FeedError("the calendar url must start with https:// (or http://)")
    if not NETLOC.fullmatch(parts.netloc):
        raise FeedError("the calendar url's host part is ambiguous or not allowed; write it as https://host[:port]/path")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FeedError("the calendar url has an invalid port") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FeedError("the calendar url has no host name")
    try:
        host = str(ipaddress.ip_address(host)) if ":" in host else host.encode("idna").decode("ascii").lower()
    except (ValueError, UnicodeError):
        raise FeedError("the calendar url's host name is not a valid internationalised domain name") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return FeedUrl(parts.scheme, host, port, target)


def resolve_system(host: str, port: int) -> list[Address]:
    """Every address the system resolver gives for `host` (once: the caller connects to one of these)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FeedError(f"the calendar url's host {host!r} does not resolve; check the URL") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


@dataclass(frozen=True)
class FeedFetcher:
    """Fetches one feed within `deadline_s` in total and `max_bytes`, from an address `policy` allows."""

    deadline_s: float = 10.0
    max_bytes: int = 2_000_000
    policy: AddressPolicy = public_only
    resolve: Resolver = resolve_system
    tls: ssl.SSLContext | None = None

    def __call__(self, url: str) -> bytes:
        feed = parse_feed_url(url)
        deadline = time.monotonic() + self.deadline_s
        addresses = self._resolve_within(feed, self.deadline_s)
        if not addresses:
            raise FeedError(f"the calendar url's host {feed.host!r} does not resolve; check the URL")
        for addr in addresses:  # every answer is checked: a mixed answer is how rebinding hides a private address
            why = self.policy(addr)
            if why is not None:
                raise FeedError(f"the calendar url's host {feed.host!r} resolves to {addr}, which is refused: "
                                f"{why}; use a feed on the public internet")
        return self._get(feed, addresses[0], deadline)

    def _resolve_within(self, feed: FeedUrl, seconds: float) -> list[Address]:
        """Resolve in a helper thread and stop waiting at the deadline: getaddrinfo itself cannot be interrupted,
        and a tenant's name server may answer slowly on purpose."""
        outcome: list[Any] = []

        def work() -> None:
            try:
                outcome.append(list(self.resolve(feed.host, feed.port)))
            except FeedError as exc:
                outcome.append(exc)

        helper = threading.Thread(target=work, name="feed-resolve", daemon=True)
        helper.start()
        helper.join(seconds)
        if not outcome:
            raise FeedError(f"the calendar url's host {feed.host!r} did not resolve within {self.deadline_s:g} s; "
                            "the previous busy blocks are kept")
        if isinstance(outcome[0], FeedError):
            raise outcome[0]
        return list(outcome[0])

    def _get(self, feed: FeedUrl, addr: Address, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FeedError(f"the calendar feed took longer than {self.deadline_s:g} s in total; "
                            "the previous busy blocks are kept")
        try:
            raw = socket.create_connection((str(addr), feed.port), timeout=left)
        except OSError:
            raise FeedError(f"could not connect to the calendar feed's host {feed.host!r}; "
                            "the previous busy blocks are kept") from None
        expired = threading.Event()
        # shutdown acts on the connection, not the descriptor: a duplicate still cuts it once TLS has taken raw's
        watch = raw.dup()

        def cut() -> None:  # the deadline covers everything: connect, TLS, headers, and a body sent byte by byte
            expired.set()
            with contextlib.suppress(OSError):
                watch.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
        timer.daemon = True
        timer.start()
        try:
            body = self._exchange(feed, raw)
            if expired.is_set():  # the cut can look like a normal end of a body without Content-Length
                raise OSError("deadline")
            return body
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if expired.is_set() or time.monotonic() >= deadline:  # the watchdog or the socket's own timeout
                raise FeedError(f"the calendar feed took longer than {self.deadline_s:g} s in total; "
                                "the previous busy blocks are kept") from None
            kind = "its TLS certificate is not valid for the host" if isinstance(
                exc, ssl.SSLCertVerificationError) else f"{type(exc).__name__}"
            raise FeedError(f"the calendar feed could not be fetched ({kind}); the previous busy blocks are "
                            "kept") from None
        finally:
            timer.cancel()
            watch.close()
            raw.close()

    def _exchange(self, feed: FeedUrl, raw: socket.socket) -> bytes:
        sock: socket.socket = raw
        if feed.scheme == "https":
            context = self.tls or ssl.create_default_context()
            sock = context.wrap_socket(raw, server_hostname=feed.host)  # SNI and certificate for the name
        request = (f"GET {feed.target} HTTP/1.1\r\nHost: {feed.host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
                   "Accept: text/calendar\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n")
        sock.sendall(request.encode("ascii"))
        response = http.client.HTTPResponse(sock, method="GET")
        try:
            response.begin()
            if 300 <= response.status < 400:
                raise FeedError(f"the calendar feed answered HTTP {response.status} (a redirect), which is not "
                                "followed; use the URL it redirects to")
            if response.status != 200:
                raise FeedError(f"the calendar feed answered HTTP {response.status}; check the URL")
            body = bytearray()
            while chunk := response.read1(65536):
                body.extend(chunk)
                if len(body) > self.max_bytes:
                    raise FeedError(f"the calendar feed is larger than {self.max_bytes} bytes")
            return bytes(body)
        finally:
            response.close()
            if sock is not raw:
                sock.close()
