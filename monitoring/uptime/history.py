"""Raw results, minute and hour rollups, pruning, and uptime percentages computed from the rollups."""

from __future__ import annotations

import sqlite3

from uptime import incidents
from uptime.result import Result
from uptime.store import Store

RAW_RETENTION = 7 * 86400
ROLLUP_RETENTION = 400 * 86400
WINDOWS = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400}

_UPSERT = """
INSERT INTO {table} (target, bucket, total, ok, duration_sum, duration_max) VALUES (?, ?, 1, ?, ?, ?)
ON CONFLICT (target, bucket) DO UPDATE SET total = total + 1, ok = ok + excluded.ok,
    duration_sum = duration_sum + excluded.duration_sum, duration_max = MAX(duration_max, excluded.duration_max)
"""


def record(conn: sqlite3.Connection, result: Result) -> None:
    """Store one raw result and fold it into its minute and hour buckets (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO results (target, location, ts, ok, kind, status, duration, error, cert_expiry, warning)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (result.target, result.location, result.ts, int(result.ok), result.kind, result.status,
         result.duration, result.error, result.cert_expiry, result.cert_warning),
    )
    for table, size in (("rollup_minute", 60), ("rollup_hour", 3600)):
        bucket = int(result.ts // size) * size
        conn.execute(_UPSERT.format(table=table),
                     (result.target, bucket, int(result.ok), result.duration, result.duration))


def prune(store: Store, now: float) -> dict[str, int]:
    """Delete raw results older than 7 days and rollups older than 400 days; return rows deleted."""
    with store.tx() as conn:
        raw = conn.execute("DELETE FROM results WHERE ts < ?", (now - RAW_RETENTION,)).rowcount
        minute = conn.execute("DELETE FROM rollup_minute WHERE bucket < ?", (now - ROLLUP_RETENTION,)).rowcount
        hour = conn.execute("DELETE FROM rollup_hour WHERE bucket < ?", (now - ROLLUP_RETENTION,)).rowcount
        incidents.prune(conn, now - ROLLUP_RETENTION)
    return {"results": raw, "rollup_minute": minute, "rollup_hour": hour}


def uptime(store: Store, targets: list[str], now: float) -> dict[str, float | None]:
    """Percentage of successful probes over 24h, 7d, 30d and 90d for a set of targets (None: no data).

    The last 24 hours come from minute rollups, longer windows from hour rollups, so the answer does not
    depend on raw results that pruning removes.
    """
    out: dict[str, float | None] = {}
    if not targets:
        return dict.fromkeys(WINDOWS)
    marks = ",".join("?" * len(targets))
    for label, span in WINDOWS.items():
        table = "rollup_minute" if span <= 86400 else "rollup_hour"
        size = 60 if table == "rollup_minute" else 3600
        start = int((now - span) // size) * size + size
        row = store.one(
            f"SELECT SUM(total) AS total, SUM(ok) AS ok FROM {table} WHERE target IN ({marks}) AND bucket >= ?",
            (*targets, start),
        )
        total = row["total"] if row else None
        out[label] = round(100.0 * row["ok"] / total, 3) if row and total else None
    return out


def daily(store: Store, targets: list[str], now: float, days: int = 90) -> list[dict[str, object]]:
    """Per UTC day (oldest first): probes, successes, uptime % and mean latency, for the 90 status bars."""
    if not targets:
        return []
    marks = ",".join("?" * len(targets))
    today = int(now // 86400) * 86400
    first = today - (days - 1) * 86400
    rows = store.query(
        f"SELECT (bucket / 86400) * 86400 AS day, SUM(total) AS total, SUM(ok) AS ok,"
        f" SUM(duration_sum) AS dsum FROM rollup_hour WHERE target IN ({marks}) AND bucket >= ? GROUP BY day",
        (*targets, first),
    )
    by_day = {int(r["day"]): r for r in rows}
    away = gaps(store, first, now)
    out: list[dict[str, object]] = []
    for index in range(days):
        day = first + index * 86400
        row = by_day.get(day)
        total = int(row["total"]) if row else 0
        out.append({
            "day": day,
            "unknown_s": round(sum(max(0.0, min(end, day + 86400) - max(start, day)) for start, end in away)),
            "total": total,
            "ok": int(row["ok"]) if row else 0,
            "uptime": round(100.0 * row["ok"] / total, 3) if row and total else None,
            "latency_ms": round(1000 * row["dsum"] / total, 1) if row and total else None,
        })
    return out


def gaps(store: Store, since: float, until: float) -> list[tuple[float, float]]:
    """The spans between ``since`` and ``until`` when the monitor itself was not running (oldest first).

    Nothing was probed then, so those spans are unknown: they add to no uptime figure, up or down.
    """
    rows = store.query("SELECT start, end FROM monitor_gaps WHERE end > ? AND start < ? ORDER BY start",
                       (since, until))
    return [(max(float(r["start"]), since), min(float(r["end"]), until)) for r in rows]


def latency_series(store: Store, targets: list[str], now: float, hours: int = 24) -> list[tuple[int, float]]:
    """Mean response time per hour over the last ``hours`` (for the SVG chart)."""
    if not targets:
        return []
    marks = ",".join("?" * len(targets))
    rows = store.query(
        f"SELECT bucket, SUM(duration_sum) / SUM(total) AS mean FROM rollup_hour WHERE target IN ({marks})"
        f" AND bucket >= ? GROUP BY bucket ORDER BY bucket",
        (*targets, int(now // 3600) * 3600 - (hours - 1) * 3600),
    )
    return [(int(r["bucket"]), float(r["mean"])) for r in rows]
