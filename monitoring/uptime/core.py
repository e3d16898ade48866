"""The monitor core: results in, per-target state, incidents per cell, acknowledgements and silences."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from uptime import flapping, history, incidents, state
from uptime.clock import Clock
from uptime.config import Config
from uptime.metrics import Metrics
from uptime.result import Result
from uptime.state import TargetState
from uptime.store import Store

log = logging.getLogger("uptime")


class UptimeError(Exception):
    """A user-facing error of the monitor (unknown incident, bad silence, ...)."""


@dataclass(frozen=True)
class CellView:
    """What the core currently believes about a cell."""

    cell: str
    down: list[str]
    total: int
    incident_id: int | None
    unknown: tuple[str, ...] = ()  # failing when last seen, not probed since (the monitor or an agent was away)
    flapping: bool = False  # its open incident flaps: it pages again only once stable


@dataclass(frozen=True)
class CellCheck:
    """One evaluation of a cell: what fails now, how many checks it has, and what is not known."""

    failing: list[dict[str, object]]
    total: int
    unknown: list[str]
    unsettled: list[str]  # failed within the last half flap window: too soon to call a flapping cell stable


class Core:
    """Single writer of monitor state; the HTTP server, scheduler and CLI call into it."""

    def __init__(self, config: Config, store: Store, clock: Clock, metrics: Metrics | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.targets = {t.name: t for t in config.targets}

    # -- lifecycle ---------------------------------------------------------------------------------

    def resume(self) -> float:
        """Start after a stop of any length; returns the seconds the monitor was away (0 if none).

        The time since the monitor was last alive is stored as a gap: unknown, never up, and not part of
        any uptime figure. Open incidents stay open; the per-target states they rest on were persisted,
        so a recovery still needs ``up_after`` successes, and those can only come from fresh probes.
        """
        now = self.clock.now()
        intervals = [t.interval for t in self.config.targets] or [30.0]
        with self.store.tx() as conn:
            last = max(float(conn.execute("SELECT COALESCE(MAX(ts), 0) FROM results").fetchone()[0]),
                       float(conn.execute("SELECT COALESCE(MAX(CAST(value AS REAL)), 0) FROM kv"
                                          " WHERE key = 'alive_at'").fetchone()[0]))
            away = now - last if last else 0.0
            # Shorter than two probe intervals is an ordinary restart: no probe was missed.
            if away > 2 * min(intervals):
                conn.execute("INSERT OR REPLACE INTO monitor_gaps (start, end) VALUES (?, ?)", (last, now))
                log.warning("the monitor was away for %.0fs; that time is recorded as unknown", away)
            else:
                away = 0.0
            self._alive(conn, now)
            if self.metrics:
                for cell in self.config.cells():
                    open_now = incidents.open_for(conn, cell) is not None
                    self.metrics.incidents.labels(cell).set(1 if open_now else 0)
        return away

    def heartbeat(self) -> None:
        """Note that the monitor is alive, so a later start knows when it stopped."""
        with self.store.tx() as conn:
            self._alive(conn, self.clock.now())

    @staticmethod
    def _alive(conn: sqlite3.Connection, now: float) -> None:
        conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES ('alive_at', ?)", (repr(now),))

    # -- results -----------------------------------------------------------------------------------

    def record(self, result: Result) -> TargetState:
        """Store a result, advance the target's state machine, open or resolve the cell's incident; return the
        target's new state at the result's location."""
        if result.target not in self.targets:
            raise UptimeError(f"unknown target {result.target!r}; it is not in {self.config.source}")
        th = self.config.thresholds
        with self.store.tx() as conn:
            history.record(conn, result)
            row = conn.execute("SELECT * FROM target_state WHERE target = ? AND location = ?",
                               (result.target, result.location)).fetchone()
            current = TargetState(row["state"], row["count"], row["since"], row["kind"], row["error"]) if row \
                else TargetState(state.UP, 0, result.ts)
            new = state.advance(current, result.ok, result.ts, result.kind, result.error,
                                th.down_after, th.up_after)
            past = row["history"] if row else ""
            was_flapping = bool(row["flapping"]) if row else False
            recent = flapping.remember(past, new.state in state.FAILING, th.flapping)
            flaps = flapping.flapping(recent, was_flapping, th.flapping)
            conn.execute(
                "INSERT OR REPLACE INTO target_state (target, location, state, count, since, kind, error, updated,"
                " history, flapping) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result.target, result.location, new.state, new.count, new.since, new.kind, new.error, result.ts,
                 recent, int(flaps)),
            )
            if new.state != current.state:
                log.info("target %s at %s: %s -> %s", result.target, result.location, current.state, new.state)
            if flaps != was_flapping:
                log.warning("target %s at %s %s flapping (%.0f%% state change)", result.target, result.location,
                            "started" if flaps else "stopped", flapping.percent(recent, th.flapping))
            # Re-evaluating a cell costs a query per target; only a state change or an open incident
            # (whose failure list must stay current) can change the outcome.
            if new.state != current.state or flaps != was_flapping or incidents.open_for(conn, result.cell):
                self._evaluate_cell(conn, result.cell)
        if self.metrics:
            self.metrics.observe(result)
        return new

    def _check(self, conn: sqlite3.Connection, cell: str) -> CellCheck:
        """Targets of ``cell`` that a quorum of fresh locations sees down, and those nobody saw lately.

        A location that reported a failure and then fell silent (the monitor was stopped, an agent died)
        makes its target unknown, not up: an incident never resolves on the absence of news.
        """
        now = self.clock.now()
        freshness = max(self.config.monitor.agent_silence, 1.0)
        locations = set(self.config.monitor.locations)
        failing = []
        unknown = []
        unsettled = []
        settle = self.config.thresholds.flapping.window // 2
        cell_targets = self.config.cell_targets(cell)
        for target in cell_targets:
            rows = [r for r in conn.execute("SELECT * FROM target_state WHERE target = ? ORDER BY since",
                                            (target.name,)).fetchall() if r["location"] in locations]
            cutoff = now - freshness - 3 * target.interval
            # A flapping target counts as failing until it is stable: that is what holds its incident open.
            bad = [r for r in rows if r["state"] in state.FAILING or r["flapping"]]
            if any(r["updated"] < cutoff for r in bad):
                unknown.append(target.name)
            down = [r for r in bad if r["updated"] >= cutoff]
            # A heartbeat is judged by the core alone (the job pings it), so one location is the quorum.
            quorum = 1 if target.type == "heartbeat" else self.config.thresholds.quorum
            if any("1" in r["history"][-settle:] for r in rows):
                unsettled.append(target.name)
            if len(down) >= quorum:
                kind = "flapping" if any(r["flapping"] for r in down) else down[0]["kind"] or "failing"
                failing.append({"target": target.name, "url": target.url, "kind": kind,
                                "error": down[0]["error"], "since": min(r["since"] for r in down),
                                "locations": [r["location"] for r in down]})
        return CellCheck(failing, len(cell_targets), unknown, unsettled)

    def _evaluate_cell(self, conn: sqlite3.Connection, cell: str) -> None:
        check = self._check(conn, cell)
        failing, total = check.failing, check.total
        now = self.clock.now()
        incident = incidents.open_for(conn, cell)
        if failing and incident is None:
            incident = self._relapse(conn, cell, now)
        flaps = any(f["kind"] == "flapping" for f in failing)
        if failing and incident is None:
            incidents.create(conn, cell, now, failing, total, flaps)
            log.warning("incident opened for cell %s: %d/%d checks failing", cell, len(failing), total)
        elif failing and incident is not None:
            incidents.update_failing(conn, incident, failing, total, flaps)
        elif not failing and incident is not None and check.unknown:
            log.info("incident %s for cell %s stays open until %s are probed again", incident.id, cell,
                     ", ".join(check.unknown))
        elif not failing and incident is not None and incident.flapping and check.unsettled:
            pass  # a flapping cell recovers only once its checks have been up for half a flap window
        elif not failing and incident is not None:
            incidents.resolve(conn, incident.id, now)
            log.warning("incident %s for cell %s resolved", incident.id, cell)
        if self.metrics:
            still_open = failing or (incident is not None and (check.unknown or (incident.flapping
                                                                              and check.unsettled)))
            self.metrics.incidents.labels(cell).set(1 if still_open else 0)

    def _relapse(self, conn: sqlite3.Connection, cell: str, now: float) -> incidents.Incident | None:
        """Reopen the cell's last incident if it resolved within one flap window: the cell is flapping.

        Its people were paged already; a new incident would page them again for the same trouble. The
        window is as long as the flap history of the cell's fastest check (window + 1 results).
        """
        last = incidents.last_resolved(conn, cell)
        if last is None or last.resolved_at is None:
            return None
        fastest = min(t.interval for t in self.config.cell_targets(cell))
        if now - last.resolved_at > (self.config.thresholds.flapping.window + 1) * fastest:
            return None
        log.warning("cell %s failed again %.0fs after incident %s resolved: reopened as flapping", cell,
                    now - last.resolved_at, last.id)
        return incidents.reopen(conn, last.id)

    def suspects(self, within: float, elsewhere_than: str) -> list[str]:
        """Targets that another location saw fail for the first time in the last ``within`` seconds: this
        location re-checks them at once, so a quorum is confirmed (or not) without waiting an interval."""
        rows = self.store.query("SELECT DISTINCT target FROM target_state WHERE state = ? AND updated >= ?"
                                " AND location != ?", (state.SUSPECT, self.clock.now() - within, elsewhere_than))
        return [str(r["target"]) for r in rows]

    # -- people ------------------------------------------------------------------------------------

    def ack(self, incident_id: int, by: str) -> bool:
        """Acknowledge an incident: stops escalation and reminders. False if it was already acknowledged."""
        with self.store.tx() as conn:
            fresh = incidents.acknowledge(conn, incident_id, by, self.clock.now())
        if fresh is None:
            raise UptimeError(f"incident {incident_id} does not exist; `uptime status` lists open incidents")
        if fresh:
            log.info("incident %s acknowledged by %s", incident_id, by)
        return fresh

    def silence(self, cell: str, starts_at: float, ends_at: float, reason: str, by: str) -> int:
        """A one-off silence for a cell: failures are recorded, nobody is paged."""
        if cell not in self.config.cells():
            raise UptimeError(f"cell {cell!r} has no targets; known cells: {', '.join(self.config.cells())}")
        if ends_at <= starts_at:
            raise UptimeError("a silence must end after it starts; check --duration")
        with self.store.tx() as conn:
            cur = conn.execute("INSERT INTO silences (cell, starts_at, ends_at, reason, created_by, created_at)"
                               " VALUES (?, ?, ?, ?, ?, ?)", (cell, starts_at, ends_at, reason, by, self.clock.now()))
            return int(cur.lastrowid or 0)

    def suppressed(self, cell: str, ts: float) -> str | None:
        """Why paging for ``cell`` is suppressed at ``ts`` (a maintenance window or silence), or None."""
        for window in self.config.maintenance:
            if window.active(ts, cell):
                return f"maintenance window {window.name}"
        row = self.store.one("SELECT reason FROM silences WHERE cell = ? AND starts_at <= ? AND ends_at > ?",
                             (cell, ts, ts))
        return f"silence: {row['reason']}" if row else None

    def cells(self) -> list[CellView]:
        """Current view of every cell."""
        out = []
        for cell in self.config.cells():
            with self.store.lock:
                check = self._check(self.store.conn, cell)
                incident = incidents.open_for(self.store.conn, cell)
            out.append(CellView(cell, [str(f["target"]) for f in check.failing], check.total,
                                incident.id if incident else None, tuple(check.unknown),
                                bool(incident and incident.flapping)))
        return out
