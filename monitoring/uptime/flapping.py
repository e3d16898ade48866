"""Flap detection in the style of Nagios and Icinga: percent state change over a window, with hysteresis.

Every result appends the target's confirmed state (failing or not) to a short history. The share of
state changes among the window's transitions, recent ones weighing more (0.8 for the oldest to 1.2 for
the newest, as Nagios does), is the flap percentage. A target starts flapping above ``high`` and stops
below ``low``; in between it keeps its current verdict, so it does not flap in and out of flapping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlapPolicy:
    """Window (transitions) and thresholds (percent); the defaults are Icinga 2's."""

    window: int = 20
    low: float = 25.0
    high: float = 30.0


def remember(history: str, failing: bool, policy: FlapPolicy) -> str:
    """The history with one more confirmed state (``1`` failing, ``0`` not), at most window + 1 long."""
    return (history + ("1" if failing else "0"))[-(policy.window + 1):]


def percent(history: str, policy: FlapPolicy) -> float:
    """Weighted percent of state changes, always divided by the full window: a short history (a new
    target, a fresh database) never looks flappy just because it has few transitions."""
    transitions = len(history) - 1
    if transitions < 1:
        return 0.0
    step = 0.4 / max(transitions - 1, 1)
    changes = sum(0.8 + step * i for i in range(transitions) if history[i] != history[i + 1])
    return 100.0 * changes / policy.window


def flapping(history: str, was_flapping: bool, policy: FlapPolicy) -> bool:
    """Whether the target flaps after this history, with hysteresis between ``low`` and ``high``."""
    value = percent(history, policy)
    if was_flapping:
        return value >= policy.low
    return value > policy.high
