"""The per-target, per-location state machine: up -> suspect -> down -> recovering -> up."""

from __future__ import annotations

from dataclasses import dataclass, replace

UP, SUSPECT, DOWN, RECOVERING = "up", "suspect", "down", "recovering"
FAILING = (DOWN, RECOVERING)  # a recovering target is still down until up_after successes


@dataclass(frozen=True)
class TargetState:
    """Where one target stands as seen from one location."""

    state: str = UP
    count: int = 0  # consecutive results that pushed towards the next state
    since: float = 0.0  # when the current run of failures (or the current state) began
    kind: str | None = None
    error: str = ""


def advance(current: TargetState, ok: bool, ts: float, kind: str | None, error: str,
            down_after: int, up_after: int) -> TargetState:
    """The next state after one probe result."""
    state = current.state
    if ok:
        if state in (SUSPECT, UP):
            return TargetState(UP, 0, current.since if state == UP else ts)
        count = current.count + 1 if state == RECOVERING else 1
        if count >= up_after:
            return TargetState(UP, 0, ts)
        return replace(current, state=RECOVERING, count=count)
    if state in (DOWN, RECOVERING):
        return TargetState(DOWN, 0, current.since, kind, error)
    count = current.count + 1 if state == SUSPECT else 1
    since = current.since if state == SUSPECT else ts
    if count >= down_after:
        return TargetState(DOWN, 0, since, kind, error)
    return TargetState(SUSPECT, count, since, kind, error)
