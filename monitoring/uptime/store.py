"""SQLite (WAL) persistence: target states, incidents, the notification outbox, results and rollups."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uptime import incidents

SCHEMA = incidents.SCHEMA + """
CREATE TABLE IF NOT EXISTS target_state (
    target TEXT NOT NULL, location TEXT NOT NULL, state TEXT NOT NULL, count INTEGER NOT NULL,
    since REAL NOT NULL, kind TEXT, error TEXT NOT NULL DEFAULT '', updated REAL NOT NULL,
    history TEXT NOT NULL DEFAULT '', flapping INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (target, location));
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id INTEGER NOT NULL, event TEXT NOT NULL,
    channel TEXT NOT NULL, recipient TEXT NOT NULL, notice TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, sent_at REAL,
    UNIQUE (incident_id, event, channel, recipient));
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS results (
    target TEXT NOT NULL, location TEXT NOT NULL, ts REAL NOT NULL, ok INTEGER NOT NULL, kind TEXT,
    status INTEGER, duration REAL NOT NULL, error TEXT NOT NULL DEFAULT '', cert_expiry REAL,
    warning TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS results_ts ON results (ts);
CREATE INDEX IF NOT EXISTS results_target ON results (target, ts);
CREATE TABLE IF NOT EXISTS rollup_minute (
    target TEXT NOT NULL, bucket INTEGER NOT NULL, total INTEGER NOT NULL, ok INTEGER NOT NULL,
    duration_sum REAL NOT NULL, duration_max REAL NOT NULL, PRIMARY KEY (target, bucket));
CREATE TABLE IF NOT EXISTS rollup_hour (
    target TEXT NOT NULL, bucket INTEGER NOT NULL, total INTEGER NOT NULL, ok INTEGER NOT NULL,
    duration_sum REAL NOT NULL, duration_max REAL NOT NULL, PRIMARY KEY (target, bucket));
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, cell TEXT NOT NULL, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
    reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    location TEXT PRIMARY KEY, last_seen REAL NOT NULL, results INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT, group_key TEXT NOT NULL, cell TEXT NOT NULL, opened_at REAL NOT NULL,
    resolved_at REAL, acked_at REAL, acked_by TEXT, told TEXT NOT NULL DEFAULT '{}',
    recovered TEXT NOT NULL DEFAULT '[]', sent_at TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS alert_groups_key ON alert_groups (group_key, resolved_at);
CREATE TABLE IF NOT EXISTS heartbeats (
    target TEXT PRIMARY KEY, first_seen REAL NOT NULL, last_ping REAL, ok INTEGER NOT NULL DEFAULT 1,
    message TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS monitor_gaps (start REAL NOT NULL, end REAL NOT NULL, PRIMARY KEY (start));
"""

# Columns added after the first release: a database written by an older monitor gets them on open.
ADDED_COLUMNS = {
    "incidents": incidents.ADDED_COLUMNS,
    "target_state": {"history": "TEXT NOT NULL DEFAULT ''", "flapping": "INTEGER NOT NULL DEFAULT 0"},
    "agents": {"last_batch": "REAL NOT NULL DEFAULT 0"},
}


class Store:
    """One connection shared by the monitor's threads behind a lock; every change is one transaction."""

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.executescript(SCHEMA)
        for table, columns in ADDED_COLUMNS.items():
            have = {row["name"] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns.items():
                if name not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        self.lock = threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it or nothing (a failed step leaves state as it was)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Read rows."""
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Row | None:
        """Read one row or None."""
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def value(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, args)
        return None if row is None else row[0]

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()
