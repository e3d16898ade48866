"""Small typed readers for the environment schema, collecting every problem instead of stopping.

`environment.py` describes what an environment file means; this module knows how to read one
value, check it, and record a message that names the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECURE_KEY = "secure"


@dataclass(frozen=True)
class Secret:
    """A value Pulumi keeps encrypted (`{secure: v1:...}`); its clear text is not in the file."""

    ciphertext: str
    path: str = ""
    """Where in `slotstack:` config the value sits, e.g. "oncall.receivers[0].phone"."""

    def __str__(self) -> str:
        return "[secret]"


@dataclass
class Problems:
    """Every problem found in one file, each as "<key path>: <message>"."""

    source: str
    items: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}" if path else message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def lines(self) -> list[str]:
        return [f"{self.source}: {item}" for item in self.items]


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def show(value: Any) -> str:
    """A value as the user wrote it, quoted like Python does, for messages."""
    if isinstance(value, Secret):
        return "a secret"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    return repr(value)


def type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def check_keys(
    problems: Problems, path: str, data: Mapping[str, Any], allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Report unknown keys (with a did-you-mean) and missing required keys of one mapping."""
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            problems.add(join(path, str(key)), f"unknown key{suggestion} (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in data or data[key] is None:
            problems.add(join(path, key), "is required but missing")


def as_mapping(problems: Problems, path: str, value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    problems.add(path, f"expected a mapping, got {type_name(value)} {show(value)}")
    return None


def read_str(
    problems: Problems,
    path: str,
    data: Mapping[str, Any],
    key: str,
    *,
    default: str | None = None,
    choices: Iterable[str] | None = None,
    pattern: str | None = None,
    what: str = "",
) -> str:
    """A string value; an error names the key, the value and the allowed choices or shape."""
    full = join(path, key)
    value = data.get(key, default)
    if value is None:
        return ""  # missing: reported by check_keys(required=...)
    if not isinstance(value, str):
        problems.add(full, f"expected a string, got {type_name(value)} {show(value)}")
        return ""
    if choices is not None:
        allowed = list(choices)
        if value not in allowed:
            hint = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            problems.add(full, f"{show(value)} is not allowed{suggestion} (allowed: {', '.join(allowed)})")
    if pattern is not None and not re.fullmatch(pattern, value):
        problems.add(full, f"{show(value)} is not {what or 'in the expected form'}")
    return value


def read_int(
    problems: Problems,
    path: str,
    data: Mapping[str, Any],
    key: str,
    *,
    default: int,
    low: int,
    high: int,
    choices: Iterable[int] | None = None,
) -> int:
    """An integer within [low, high] (booleans are not integers here, unlike in Python)."""
    full = join(path, key)
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(full, f"expected an integer from {low} to {high}, got {type_name(value)} {show(value)}")
        return default
    if choices is not None:
        allowed = list(choices)
        if value not in allowed:
            problems.add(full, f"{value} is not allowed (allowed: {', '.join(map(str, allowed))})")
            return default
    if not low <= value <= high:
        problems.add(full, f"{value} is out of range (allowed: {low} to {high})")
        return default
    return value


def read_number(
    problems: Problems, path: str, data: Mapping[str, Any], key: str, *, default: float, low: float, high: float
) -> float:
    """A number (integer or decimal) within [low, high]."""
    full = join(path, key)
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(full, f"expected a number from {low:g} to {high:g}, got {type_name(value)} {show(value)}")
        return default
    if not low <= value <= high:
        problems.add(full, f"{value:g} is out of range (allowed: {low:g} to {high:g})")
        return default
    return float(value)


def read_bool(problems: Problems, path: str, data: Mapping[str, Any], key: str, *, default: bool) -> bool:
    full = join(path, key)
    value = data.get(key, default)
    if not isinstance(value, bool):
        problems.add(full, f"expected true or false, got {type_name(value)} {show(value)}")
        return default
    return value


def read_secret_or_str(
    problems: Problems, path: str, data: Mapping[str, Any], key: str, *, pattern: str, what: str
) -> str | Secret | None:
    """A value that a real stack may keep as a Pulumi secret (`{secure: ...}`), else a checked string."""
    full = join(path, key)
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, Mapping) and set(value) == {SECURE_KEY}:
        return Secret(str(value[SECURE_KEY]), full)
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        problems.add(full, f"expected {what} or a Pulumi secret, got {type_name(value)} {show(value)}")
        return None
    if not re.fullmatch(pattern, value):
        problems.add(full, f"{show(value)} is not {what}")
    return value
