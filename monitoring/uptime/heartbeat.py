"""Heartbeat (push) checks: a job such as a backup calls its URL when it succeeded; the monitor pages when
a ping is late (more than ``every`` + ``grace`` after the last one) or the job reports failure.

The URL carries an HMAC of the check's name, so only holders of the URL can ping: ``/ping/<name>.<mac>``
(GET or POST; ``/ping/<name>.<mac>/fail`` reports a failure, with an optional text body as the reason).
The verdict is a probe result like any other, so ``down_after``, incidents, escalation and recovery apply.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

from uptime.clock import utc
from uptime.config import Config, Target
from uptime.notice import format_duration
from uptime.result import Result
from uptime.server import HttpError
from uptime.store import Store

log = logging.getLogger("uptime.heartbeat")


def token(name: str, secret: bytes) -> str:
    """22 characters of base64url HMAC-SHA256 over the check's name."""
    mac = hmac.new(secret, f"ping:{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:22]


def url(config: Config, name: str, secret: bytes) -> str:
    """The address the job calls on success (append ``/fail`` to report a failure)."""
    return f"{config.monitor.public_url}/ping/{name}.{token(name, secret)}"


def ping(store: Store, name: str, ok: bool, message: str, now: float) -> None:
    """Record a ping (success or reported failure)."""
    with store.tx() as conn:
        conn.execute(
            "INSERT INTO heartbeats (target, first_seen, last_ping, ok, message) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (target) DO UPDATE SET last_ping = excluded.last_ping, ok = excluded.ok,"
            " message = excluded.message", (name, now, now, int(ok), message[:500]))


def check(store: Store, target: Target, location: str, now: float) -> Result:
    """The verdict on a heartbeat at ``now``: late, reported failed, or fine."""
    beat = target.heartbeat
    with store.tx() as conn:
        # A new check gets one full period (plus grace) from the moment the monitor first watched it.
        conn.execute("INSERT OR IGNORE INTO heartbeats (target, first_seen) VALUES (?, ?)", (target.name, now))
        row = conn.execute("SELECT * FROM heartbeats WHERE target = ?", (target.name,)).fetchone()
    if beat is None:  # the config never builds a heartbeat without its settings
        return Result(target.name, target.cell, location, now, False, 0.0, "late", "no heartbeat settings")
    last = row["last_ping"]
    if last is not None and not row["ok"]:
        reason = f": {row['message']}" if row["message"] else ""
        return Result(target.name, target.cell, location, now, False, 0.0, "job",
                      f"the job reported a failure at {utc(last):%Y-%m-%d %H:%M} UTC{reason}")
    since = float(last if last is not None else row["first_seen"])
    if now > since + beat.every + beat.grace:
        seen = f"last ping {utc(since):%Y-%m-%d %H:%M} UTC" if last is not None else "no ping yet"
        return Result(target.name, target.cell, location, now, False, 0.0, "late",
                      f"{seen}; expected every {format_duration(beat.every)} (grace {format_duration(beat.grace)})")
    return Result(target.name, target.cell, location, now, True, 0.0)


def handler(config: Config, store: Store, secret: bytes, clock: Any) -> Any:
    """``/ping/<name>.<mac>[/fail]`` for GET and POST: (status, JSON reply) or :class:`HttpError`."""
    beats = {t.name for t in config.targets if t.type == "heartbeat"}

    def handle(path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        rest = path.removeprefix("/ping/").strip("/")
        ident, _, verdict = rest.partition("/")
        name, _, mac = ident.rpartition(".")
        if name not in beats or not hmac.compare_digest(mac.encode(), token(name, secret).encode()):
            raise HttpError(404, "no heartbeat at this address; `uptime heartbeat-url NAME` prints the right one")
        if verdict not in ("", "fail"):
            raise HttpError(404, f"unknown ping {verdict!r}; append nothing (success) or /fail")
        ok = verdict == ""
        ping(store, name, ok, body.decode("utf-8", "replace").strip(), clock.now())
        log.info("heartbeat %s: %s", name, "ok" if ok else "failure reported")
        return 200, {"heartbeat": name, "ok": ok}

    return handle
