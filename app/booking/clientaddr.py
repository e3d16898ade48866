"""The real client address behind the cell's Application Gateway.

The gateway appends the address it accepted the connection from to `X-Forwarded-For`, as `IP:port`. Only the
last entry is the gateway's own word (everything before it came from the client and may be forged), and it is
believed only when the connection itself comes from the gateway subnet (TRUSTED_PROXIES, set by the program).
uvicorn's own proxy-header handling is off (`booking serve`), so this is the one place that decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
VIA_PROXY = "booking.via_proxy"


def parse_entry(entry: str) -> str | None:
    """The IP address of one X-Forwarded-For entry: `IP`, `IP:port`, `[v6]` or `[v6]:port`; None if malformed."""
    text = entry.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with the port Application Gateway adds
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _trusted(host: str, networks: Sequence[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in net for net in networks)


class ClientAddressMiddleware:
    """Replace the ASGI client with the address the gateway saw, for connections from the gateway subnet."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted and scope.get("client"):
            host, port = scope["client"]
            if _trusted(host, self.trusted):
                scope = dict(scope)
                scope[VIA_PROXY] = True  # came through the gateway, i.e. from outside the cell
                values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
                entries = ",".join(values).split(",") if values else []
                real = parse_entry(entries[-1]) if entries else None
                if real is not None:
                    scope = dict(scope, client=(real, port))
        await self.app(scope, receive, send)
