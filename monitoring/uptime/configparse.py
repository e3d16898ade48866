"""Small typed readers for YAML mappings that raise errors naming the key, the value and what is allowed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """The configuration is invalid; the message names the key, the value and what would be right."""


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Section:
    """A mapping from the YAML file with its dotted path, for error messages."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping, got {data!r}")
        self.data: dict[str, Any] = data
        self.path = path

    def key(self, name: str) -> str:
        """Dotted path of ``name`` inside this section."""
        return f"{self.path}.{name}" if self.path else name

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        """Refuse keys this section does not know (typos must not be silently ignored)."""
        allowed_set = set(allowed)
        for name in self.data:
            if name in {"password", "auth_token", "access_key", "secret", "secret_key", "token"}:
                raise ConfigError(
                    f"{self.key(name)}: secrets are never read from the file; "
                    f"put the secret in an environment variable and set {name}_env to its name"
                )
            if name not in allowed_set:
                raise ConfigError(
                    f"{self.key(name)}: unknown key {name!r}; allowed: {', '.join(sorted(allowed_set))}"
                )

    def has(self, name: str) -> bool:
        """True when the key is present and not null."""
        return self.data.get(name) is not None

    def raw(self, name: str, default: Any = None) -> Any:
        """The value as YAML produced it."""
        value = self.data.get(name)
        return default if value is None else value

    def sub(self, name: str, default: dict[str, Any] | None = None) -> Section:
        """A nested mapping."""
        value = self.data.get(name)
        if value is None:
            if default is None:
                raise ConfigError(f"{self.key(name)}: required mapping is missing")
            value = default
        return Section(value, self.key(name))

    def text(self, name: str, default: str | None = None, pattern: str | None = None) -> str:
        """A required (or defaulted) non-empty string."""
        value = self.data.get(name, default)
        if value is None:
            raise ConfigError(f"{self.key(name)}: required string is missing")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{self.key(name)}: expected a string, got {value!r}")
        value = str(value)
        if not value:
            raise ConfigError(f"{self.key(name)}: must not be empty")
        if pattern and not re.fullmatch(pattern, value):
            raise ConfigError(f"{self.key(name)}: {value!r} does not match {pattern}")
        return value

    def opt_str(self, name: str) -> str | None:
        """An optional string."""
        return self.text(name) if self.has(name) else None

    def integer(self, name: str, default: int | None = None, low: int = 0, high: int = 1 << 31) -> int:
        """An integer within [low, high]."""
        value = self.data.get(name, default)
        if value is None:
            raise ConfigError(f"{self.key(name)}: required integer is missing")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)}: expected an integer, got {value!r}")
        if not low <= value <= high:
            raise ConfigError(f"{self.key(name)}: {value} is out of range; allowed {low}..{high}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        """A boolean."""
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected true or false, got {value!r}")
        return value

    def duration(self, name: str, default: str | None = None, minimum: float = 0.0) -> float:
        """A duration like ``30s``, ``5m``, ``2h``, ``1d`` or ``250ms``, in seconds."""
        value = self.data.get(name, default)
        if value is None:
            raise ConfigError(f"{self.key(name)}: required duration is missing (e.g. 30s, 5m, 2h)")
        seconds = parse_duration(value, self.key(name))
        if seconds < minimum:
            raise ConfigError(f"{self.key(name)}: {value!r} is too short; minimum is {minimum:g}s")
        return seconds

    def str_list(self, name: str, default: list[str] | None = None) -> list[str]:
        """A list of strings (a single string is accepted as a one-element list)."""
        value = self.data.get(name, default)
        if value is None:
            raise ConfigError(f"{self.key(name)}: required list is missing")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise ConfigError(f"{self.key(name)}: expected a list of strings, got {value!r}")
        return [str(v) for v in value]

    def zone(self, name: str, default: str | None = None) -> ZoneInfo:
        """An IANA time zone such as ``America/Los_Angeles``."""
        value = self.text(name, default)
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{self.key(name)}: {value!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)"
            ) from exc

    def clock_time(self, name: str, default: str | None = None) -> time:
        """A wall-clock time ``HH:MM``."""
        value = self.text(name, default)
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if not match or int(match[1]) > 24 or int(match[2]) > 59:
            raise ConfigError(f"{self.key(name)}: {value!r} is not a time of day; use HH:MM, e.g. 06:00")
        if int(match[1]) == 24:
            if int(match[2]):
                raise ConfigError(f"{self.key(name)}: {value!r} is past the end of the day")
            return time(23, 59, 59, 999999)
        return time(int(match[1]), int(match[2]))

    def weekday(self, value: str, key: str) -> int:
        """Monday=0 ... Sunday=6 from a weekday name."""
        name = value.lower()
        for index, day in enumerate(WEEKDAYS):
            if name in (day, day[:3]):
                return index
        raise ConfigError(f"{key}: {value!r} is not a weekday; allowed: {', '.join(WEEKDAYS)}")


def parse_duration(value: Any, key: str) -> float:
    """Parse ``30s`` / ``5m`` / ``2h`` / ``1d`` / ``250ms`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a duration like 30s, 5m or 2h, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(f"{key}: {value!r} is negative; durations are >= 0")
        return float(value)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ConfigError(f"{key}: {value!r} is not a duration; use e.g. 250ms, 30s, 5m, 2h or 1d")
    return float(match[1]) * _UNITS[match[2]]
