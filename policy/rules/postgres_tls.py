"""Every PostgreSQL server carries the TLS server parameters (a server without them accepts plain TCP)."""

from __future__ import annotations

from collections.abc import Sequence

from policy.rules.common import Finding, Resource

NAME = "postgres-tls-parameters-present"
DESCRIPTION = ("Every PostgreSQL Flexible Server (primary and replica) has require_secure_transport=on and "
               "ssl_min_protocol_version set by a Configuration resource of the stack.")
SERVER = "azure-native:dbforpostgresql:Server"
CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
REQUIRED = ("require_secure_transport", "ssl_min_protocol_version")


def check_stack(resources: Sequence[Resource]) -> list[Finding]:
    """Servers of the stack that lack one of the TLS parameters (their values are checked by tls-minimum)."""
    configured: dict[str, set[str]] = {}
    for resource in resources:
        if resource.type == CONFIGURATION:
            server = str(resource.props.get("serverName", ""))
            configured.setdefault(server, set()).add(str(resource.props.get("configurationName", "")))
    findings = []
    for resource in resources:
        if resource.type != SERVER:
            continue
        server = str(resource.props.get("serverName") or resource.props.get("name") or resource.name)
        missing = [p for p in REQUIRED if p not in configured.get(server, set())]
        if missing:
            findings.append(Finding(resource.name, f"server {server} does not set {', '.join(missing)}: it would "
                                    "accept connections without TLS 1.2; add a dbforpostgresql.Configuration for "
                                    "each", resource.urn))
    return findings
