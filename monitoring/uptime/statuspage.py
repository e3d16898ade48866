"""The public status page: ``status.json`` and a self-contained ``index.html`` (inline SVG, no scripts)."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from uptime import history, incidents
from uptime.clock import utc
from uptime.core import Core
from uptime.notice import format_duration

# The page is public: it says what kind of trouble a check has, never the raw exception text (addresses,
# library internals), which stays in email, `uptime status` and the log.
PUBLIC_PROBLEM = {"dns": "DNS lookup failed", "connect": "connection failed", "tls": "TLS/certificate problem",
                  "timeout": "timed out", "body": "unexpected response", "latency": "slow response",
                  "flapping": "unstable", "late": "heartbeat late", "job": "job reported a failure"}


def public_problem(kind: str | None, status: int | None) -> str:
    """A short public description of a failure kind (``HTTP 503`` for a status failure)."""
    if not kind:
        return ""
    if kind == "status":
        return f"HTTP {status}" if status else "unexpected HTTP status"
    return PUBLIC_PROBLEM.get(kind, "failing")


def snapshot(core: Core, now: float) -> dict[str, Any]:
    """Everything the page shows, as JSON-able data."""
    cells = []
    views = {v.cell: v for v in core.cells()}
    for cell in core.config.cells():
        names = [t.name for t in core.config.cell_targets(cell)]
        view = views[cell]
        quiet = core.suppressed(cell, now)
        state = "flapping" if view.flapping else "down" if view.down else "up"
        if view.down and quiet:
            state = "maintenance"
        targets = []
        for target in core.config.cell_targets(cell):
            last = core.store.one("SELECT * FROM results WHERE target = ? ORDER BY ts DESC LIMIT 1", (target.name,))
            targets.append({
                "name": target.name, "url": target.url, "down": target.name in view.down,
                "last_checked": utc(last["ts"]).isoformat() if last else None,
                "ok": bool(last["ok"]) if last else None,
                "status": last["status"] if last else None,
                "latency_ms": round(1000 * last["duration"], 1) if last else None,
                "error": public_problem(last["kind"], last["status"]) if last and not last["ok"] else "",
                "warning": "certificate expires soon" if last and last["warning"] else "",
                "cert_expiry": utc(last["cert_expiry"]).isoformat() if last and last["cert_expiry"] else None,
            })
        cells.append({
            "cell": cell, "state": state, "suppressed": quiet, "down": view.down, "total": view.total,
            "uptime": history.uptime(core.store, names, now),
            "daily": history.daily(core.store, names, now),
            "latency": [[utc(ts).isoformat(), round(1000 * mean, 1)]
                        for ts, mean in history.latency_series(core.store, names, now)],
            "targets": targets,
        })
    listed = []
    with core.store.lock:
        newest = incidents.recent(core.store.conn, 50)
    for incident in newest:
        end = incident.resolved_at
        listed.append({
            "id": incident.id, "cell": incident.cell, "since": utc(incident.since).isoformat(),
            "resolved_at": utc(end).isoformat() if end else None,
            "duration": format_duration((end or now) - incident.since),
            "acknowledged": incident.acked_at is not None, "targets": list(incident.targets),
            "maintenance": incident.suppressed, "flapping": incident.flapping,
        })
    gaps = [{"from": utc(start).isoformat(), "to": utc(end).isoformat(), "duration": format_duration(end - start)}
            for start, end in history.gaps(core.store, now - 90 * 86400, now)]
    return {"generated_at": utc(now).isoformat(), "product": core.config.monitor.product, "cells": cells,
            "incidents": listed, "monitor_gaps": gaps}


_COLOURS = [(99.9, "#2da44e"), (99.0, "#9be9a8"), (95.0, "#d4a72c"), (0.0, "#cf222e")]
_STATE_COLOUR = {"up": "#2da44e", "down": "#cf222e", "maintenance": "#0969da", "flapping": "#bf8700"}


def _bar_colour(uptime: float | None) -> str:
    if uptime is None:
        return "#d0d7de"
    return next(colour for floor, colour in _COLOURS if uptime >= floor)


def _bars(daily: list[dict[str, Any]]) -> str:
    rects = []
    for index, day in enumerate(daily):
        label = utc(day["day"]).strftime("%Y-%m-%d")
        value = "no data" if day["uptime"] is None else f"{day['uptime']:.2f}%"
        if day.get("unknown_s"):
            value += f", monitor offline {format_duration(day['unknown_s'])} (unknown)"
        rects.append(f'<rect class="bar" x="{index * 7}" y="0" width="5" height="34" rx="1" '
                     f'fill="{_bar_colour(day["uptime"])}"><title>{label}: {value}</title></rect>')
    width = max(len(daily) * 7 - 2, 1)
    return (f'<svg class="bars" viewBox="0 0 {width} 34" width="{width}" height="34" role="img" '
            f'aria-label="uptime per day, last {len(daily)} days">{"".join(rects)}</svg>')


def _chart(points: list[list[Any]]) -> str:
    width, height = 628, 80
    if not points:
        return f'<svg class="chart" width="{width}" height="{height}"><text x="4" y="40">no data yet</text></svg>'
    top = max(p[1] for p in points) or 1.0
    step = width / max(len(points) - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - 4 - (p[1] / top) * (height - 14):.1f}" for i, p in enumerate(points))
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="mean response time per hour"><polyline fill="none" stroke="#0969da" stroke-width="2" '
            f'points="{coords}"/><text x="4" y="10" font-size="10">max {top:.0f} ms</text></svg>')


def render_html(data: dict[str, Any]) -> str:
    """The page; every figure comes from ``data`` so HTML and JSON never disagree."""
    esc = html.escape
    sections = []
    for cell in data["cells"]:
        up = " · ".join(f"{k}: {'–' if v is None else f'{v:.2f}%'}" for k, v in cell["uptime"].items())
        rows = "".join(
            f"<tr><td>{esc(t['name'])}</td><td>{'DOWN' if t['down'] else 'up'}</td>"
            f"<td>{t['latency_ms'] if t['latency_ms'] is not None else '–'} ms</td>"
            f"<td>{esc(t['error'] or t['warning'])}</td></tr>"
            for t in cell["targets"])
        sections.append(
            f'<section class="cell" id="cell-{esc(cell["cell"])}"><h2>{esc(cell["cell"])} '
            f'<span class="state" style="background:{_STATE_COLOUR[cell["state"]]}">{cell["state"]}</span></h2>'
            f'<p class="uptime">{up}</p>{_bars(cell["daily"])}<h3>Response time (24h)</h3>{_chart(cell["latency"])}'
            f"<table><tr><th>check</th><th>state</th><th>latency</th><th>last error</th></tr>{rows}</table></section>")
    incidents = "".join(
        f"<li>#{i['id']} {esc(i['cell'])}: since {esc(i['since'][:16].replace('T', ' '))} UTC, "
        f"{'ongoing' if i['resolved_at'] is None else 'resolved'} ({i['duration']})"
        f"{', maintenance' if i['maintenance'] else ''}{', flapping' if i.get('flapping') else ''}"
        f"{', acknowledged' if i['acknowledged'] else ''}</li>"
        for i in data["incidents"]) or "<li>No incidents.</li>"
    offline = "".join(
        f"<li>monitor offline {esc(g['from'][:16].replace('T', ' '))} to {esc(g['to'][:16].replace('T', ' '))} UTC"
        f" ({g['duration']}): state unknown, not counted in uptime</li>" for g in data.get("monitor_gaps", []))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(data["product"])} status</title>'
        # Reloads itself as often as the page is rewritten, without a script.
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="refresh" content="10"><style>'
        "body{font-family:system-ui,sans-serif;max-width:720px;margin:2em auto;color:#1f2328}"
        ".cell{border:1px solid #d0d7de;border-radius:8px;padding:1em;margin-bottom:1em}"
        ".state{color:#fff;border-radius:4px;padding:0 .4em;font-size:.8em;vertical-align:middle}"
        "table{border-collapse:collapse;font-size:.85em;margin-top:.5em}td,th{padding:2px 8px;text-align:left}"
        "</style></head><body>"
        f'<h1>{esc(data["product"])} status</h1>'
        f'<p class="generated">Updated {esc(data["generated_at"][:19].replace("T", " "))} UTC</p>'
        f'{"".join(sections)}<h2>Incidents</h2><ul class="incidents">{incidents}{offline}</ul></body></html>'
    )


def write(core: Core, directory: str | Path, now: float) -> dict[str, Any]:
    """Regenerate ``status.json`` and ``index.html`` atomically (readers never see half a file)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    data = snapshot(core, now)
    for name, text in (("status.json", json.dumps(data, indent=1)), ("index.html", render_html(data))):
        tmp = target / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target / name)
    return data
