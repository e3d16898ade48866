"""Which addresses a calendar feed may be fetched from: global unicast only, never a cloud platform endpoint."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Decides whether an address may be contacted: None if it may, else the reason it may not.
AddressPolicy = Callable[[Address], "str | None"]

# Global by IANA's registry but answering only to the VM that asks: a feed URL naming them would make the
# service talk to its own cloud with its own identity.
PLATFORM_ENDPOINTS = {
    ipaddress.ip_address("168.63.129.16"): "Azure's platform endpoint (WireServer, DNS, health probes)",
}
# Shared address space (RFC 6598, carrier-grade NAT): reachable inside some clouds; is_global already says False,
# named here so the refusal says why.
SHARED = ipaddress.ip_network("100.64.0.0/10")


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64), which is where packets really go."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def public_only(addr: Address) -> str | None:
    """Refuse every address that is not global unicast, and the platform endpoints."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_v4(addr)
        if inner is not None:
            why = public_only(inner)
            return None if why is None else f"it embeds {inner}, {why}"
        if addr.teredo is not None:
            return "a Teredo tunnel address"
    if addr in PLATFORM_ENDPOINTS:
        return PLATFORM_ENDPOINTS[addr]
    if isinstance(addr, ipaddress.IPv4Address) and addr in SHARED:
        return "shared address space 100.64.0.0/10 (carrier-grade NAT)"
    if addr.is_multicast:
        return "a multicast address"
    if not addr.is_global:
        return "not a global address (private, loopback, link-local or reserved)"
    return None


def private_networks_too(addr: Address) -> str | None:
    """For on-premises deployments (ICS_ALLOW_PRIVATE_NETWORKS): private networks allowed, platform endpoints and
    link-local (instance metadata) still refused."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_v4(addr)
        if inner is not None:
            return private_networks_too(inner)
    if addr in PLATFORM_ENDPOINTS:
        return PLATFORM_ENDPOINTS[addr]
    if addr.is_link_local:
        return "a link-local address (instance metadata lives there)"
    if addr.is_multicast or addr.is_unspecified:
        return "not a unicast address"
    return None
