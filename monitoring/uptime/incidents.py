"""Incidents in one place: the ``Incident`` type, its table, and every statement that reads or changes it.

An incident is one cell's trouble from its first confirmed failure to its recovery. The core opens,
updates, reopens (a relapse while flapping) and resolves it; the pager records what it planned and what
the people were told; the CLI, the status page and pruning read it. All of them go through this module.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT, cell TEXT NOT NULL, opened_at REAL NOT NULL, since REAL NOT NULL,
    resolved_at REAL, acked_at REAL, acked_by TEXT, targets TEXT NOT NULL DEFAULT '[]',
    failures TEXT NOT NULL DEFAULT '[]', total INTEGER NOT NULL DEFAULT 0, peak INTEGER NOT NULL DEFAULT 0,
    suppressed INTEGER NOT NULL DEFAULT 0, page_base REAL, notified_step INTEGER NOT NULL DEFAULT -1,
    last_notified_at REAL, reminders INTEGER NOT NULL DEFAULT 0, recovery_planned INTEGER NOT NULL DEFAULT 0,
    told TEXT NOT NULL DEFAULT '[]', updates INTEGER NOT NULL DEFAULT 0, ack_told INTEGER NOT NULL DEFAULT 0,
    flapping INTEGER NOT NULL DEFAULT 0, reopened INTEGER NOT NULL DEFAULT 0, flap_told INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (cell) WHERE resolved_at IS NULL;
"""

# Columns added after the first release: a database written by an older monitor gets them on open.
ADDED_COLUMNS = {"told": "TEXT NOT NULL DEFAULT '[]'", "updates": "INTEGER NOT NULL DEFAULT 0",
                 "ack_told": "INTEGER NOT NULL DEFAULT 0", "flapping": "INTEGER NOT NULL DEFAULT 0",
                 "reopened": "INTEGER NOT NULL DEFAULT 0", "flap_told": "INTEGER NOT NULL DEFAULT 0"}

# The pager's bookkeeping columns it may set through :func:`mark` (nothing else is written that way).
MARKS = ("suppressed", "page_base", "recovery_planned", "ack_told", "flap_told", "told", "updates")


@dataclass(frozen=True)
class Incident:
    """One cell's incident as stored."""

    id: int
    cell: str
    opened_at: float
    since: float
    resolved_at: float | None
    acked_at: float | None
    acked_by: str | None
    targets: tuple[str, ...]  # every check that failed during the incident
    failures: tuple[dict[str, Any], ...]  # what fails now: target, url, kind, error, since, locations
    total: int
    peak: int
    suppressed: bool
    page_base: float | None
    notified_step: int
    last_notified_at: float | None
    reminders: int
    recovery_planned: bool
    told: frozenset[str]  # target@location its people were last told about
    updates: int
    ack_told: bool
    flapping: bool
    reopened: int
    flap_told: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Incident:
        """Parse a row of the incidents table."""
        return cls(
            id=int(row["id"]), cell=row["cell"], opened_at=float(row["opened_at"]), since=float(row["since"]),
            resolved_at=row["resolved_at"], acked_at=row["acked_at"], acked_by=row["acked_by"],
            targets=tuple(json.loads(row["targets"])), failures=tuple(json.loads(row["failures"])),
            total=int(row["total"]), peak=int(row["peak"]), suppressed=bool(row["suppressed"]),
            page_base=row["page_base"], notified_step=int(row["notified_step"]),
            last_notified_at=row["last_notified_at"], reminders=int(row["reminders"]),
            recovery_planned=bool(row["recovery_planned"]), told=frozenset(json.loads(row["told"])),
            updates=int(row["updates"]), ack_told=bool(row["ack_told"]), flapping=bool(row["flapping"]),
            reopened=int(row["reopened"]), flap_told=bool(row["flap_told"]),
        )

    @property
    def is_open(self) -> bool:
        """Not resolved yet."""
        return self.resolved_at is None

    def failing_keys(self) -> set[str]:
        """``target@location`` for every failing check as it stands."""
        return {f"{f['target']}@{loc}" for f in self.failures for loc in f.get("locations", [])}


def _one(conn: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> Incident | None:
    row = conn.execute(sql, args).fetchone()
    return Incident.from_row(row) if row else None


def get(conn: sqlite3.Connection, incident_id: int) -> Incident | None:
    """The incident with this id, or None."""
    return _one(conn, "SELECT * FROM incidents WHERE id = ?", (incident_id,))


def open_for(conn: sqlite3.Connection, cell: str) -> Incident | None:
    """The cell's open incident (there is at most one)."""
    return _one(conn, "SELECT * FROM incidents WHERE cell = ? AND resolved_at IS NULL", (cell,))


def last_resolved(conn: sqlite3.Connection, cell: str) -> Incident | None:
    """The cell's most recent resolved incident."""
    return _one(conn, "SELECT * FROM incidents WHERE cell = ? AND resolved_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                (cell,))


def all_open(conn: sqlite3.Connection) -> list[Incident]:
    """Every open incident, oldest first."""
    return [Incident.from_row(r) for r in conn.execute("SELECT * FROM incidents WHERE resolved_at IS NULL ORDER BY id")]


def recoveries_due(conn: sqlite3.Connection) -> list[Incident]:
    """Resolved incidents whose recovery notice is not planned yet."""
    return [Incident.from_row(r) for r in conn.execute(
        "SELECT * FROM incidents WHERE resolved_at IS NOT NULL AND recovery_planned = 0 ORDER BY id")]


def recent(conn: sqlite3.Connection, limit: int = 50) -> list[Incident]:
    """The newest incidents, newest first (the status page's list)."""
    return [Incident.from_row(r) for r in conn.execute("SELECT * FROM incidents ORDER BY id DESC LIMIT ?", (limit,))]


def create(conn: sqlite3.Connection, cell: str, now: float, failing: list[dict[str, Any]], total: int,
           flapping: bool) -> int:
    """Open an incident for ``cell`` with what fails now; returns its id."""
    since = min(float(str(f["since"])) for f in failing)
    cur = conn.execute(
        "INSERT INTO incidents (cell, opened_at, since, targets, failures, total, peak, flapping)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (cell, now, since, json.dumps([f["target"] for f in failing]), json.dumps(failing), total, len(failing),
         int(flapping)))
    return int(cur.lastrowid or 0)


def update_failing(conn: sqlite3.Connection, incident: Incident, failing: list[dict[str, Any]], total: int,
                   flapping: bool) -> None:
    """Record what fails now; checks that failed earlier stay in ``targets``, and flapping stays set."""
    names = list(dict.fromkeys([*incident.targets, *(str(f["target"]) for f in failing)]))
    conn.execute("UPDATE incidents SET targets = ?, failures = ?, total = ?, peak = MAX(peak, ?),"
                 " flapping = MAX(flapping, ?) WHERE id = ?",
                 (json.dumps(names), json.dumps(failing), total, len(failing), int(flapping), incident.id))


def resolve(conn: sqlite3.Connection, incident_id: int, now: float) -> None:
    """Resolve it; pages that never got through are moot now (recovery goes only to those who were paged)."""
    conn.execute("UPDATE incidents SET resolved_at = ? WHERE id = ?", (now, incident_id))
    cancel_pending(conn, incident_id)


def reopen(conn: sqlite3.Connection, incident_id: int) -> Incident | None:
    """Reopen a resolved incident as flapping; its next recovery is planned anew."""
    conn.execute("UPDATE incidents SET resolved_at = NULL, recovery_planned = 0, flapping = 1,"
                 " reopened = reopened + 1 WHERE id = ?", (incident_id,))
    return get(conn, incident_id)


def acknowledge(conn: sqlite3.Connection, incident_id: int, by: str, now: float) -> bool | None:
    """Acknowledge: True, False if it already was, None if there is no such incident."""
    incident = get(conn, incident_id)
    if incident is None:
        return None
    if incident.acked_at is not None:
        return False
    conn.execute("UPDATE incidents SET acked_at = ?, acked_by = ? WHERE id = ?", (now, by, incident_id))
    cancel_pending(conn, incident_id)
    return True


def cancel_pending(conn: sqlite3.Connection, incident_id: int) -> None:
    """Cancel the incident's unsent notifications except recoveries."""
    conn.execute("UPDATE notifications SET status = 'cancelled' WHERE incident_id = ? AND status = 'pending'"
                 " AND event NOT LIKE 'recovery%'", (incident_id,))


def mark(conn: sqlite3.Connection, incident_id: int, **values: object) -> None:
    """Set the pager's bookkeeping columns (``MARKS``) of one incident."""
    unknown = set(values) - set(MARKS)
    if unknown:
        raise ValueError(f"not a bookkeeping column of incidents: {', '.join(sorted(unknown))}")
    columns = ", ".join(f"{name} = ?" for name in values)
    conn.execute(f"UPDATE incidents SET {columns} WHERE id = ?", (*values.values(), incident_id))


def reached(conn: sqlite3.Connection, incident_id: int, column: str, value: int, now: float) -> None:
    """A page (``notified_step``) or reminder (``reminders``) of this number was delivered at ``now``."""
    if column not in ("notified_step", "reminders"):
        raise ValueError(f"{column!r} is not notified_step or reminders")
    conn.execute(f"UPDATE incidents SET {column} = MAX({column}, ?), last_notified_at = ? WHERE id = ?",
                 (value, now, incident_id))


def step_skipped(conn: sqlite3.Connection, incident_id: int, step: int) -> None:
    """An escalation step had nobody reachable: move on as if it was delivered, never stall."""
    conn.execute("UPDATE incidents SET notified_step = MAX(notified_step, ?) WHERE id = ?", (step, incident_id))


def prune(conn: sqlite3.Connection, before: float) -> None:
    """Delete incidents (and their notifications) resolved before ``before``."""
    conn.execute("DELETE FROM notifications WHERE incident_id IN (SELECT id FROM incidents WHERE resolved_at < ?)",
                 (before,))
    conn.execute("DELETE FROM incidents WHERE resolved_at < ?", (before,))
