"""What every rule shares: reading nested props, the resource view of stack rules, exemptions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Environments whose stacks hold only synthetic tenants and are rebuilt at will: the backup
# retention rule does not apply to them (dev keeps 7 days without geo-backup to stay cheap).
NON_PRODUCTION_ENVIRONMENTS = ("dev",)


@dataclass(frozen=True)
class Resource:
    """A resource as a stack rule sees it: type, name, props and, for AWS, its provider's region."""

    type: str
    name: str
    props: Mapping[str, Any]
    aws_region: str | None = None
    urn: str = ""

    @property
    def tags(self) -> Mapping[str, Any]:
        value = self.props.get("tags")
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Finding:
    """One violation of a stack rule, attributed to a resource."""

    resource: str
    message: str
    urn: str = field(default="", compare=False)


def dig(props: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """The value at dotted `path` in nested mappings (e.g. "network.publicNetworkAccess"), or `default`."""
    value: Any = props
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return default
        value = value[step]
    return value


def as_list(value: Any) -> list[Any]:
    """A list for list-ish props (None -> [], a scalar -> [scalar])."""
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def environment_of(props: Mapping[str, Any]) -> str | None:
    """The `environment` tag of a resource (None when untagged: rules then assume production)."""
    tags = props.get("tags")
    value = tags.get("environment") if isinstance(tags, Mapping) else None
    return value if isinstance(value, str) else None


def is_production_data(props: Mapping[str, Any]) -> bool:
    """False only for resources explicitly tagged with a non-production environment."""
    return environment_of(props) not in NON_PRODUCTION_ENVIRONMENTS
