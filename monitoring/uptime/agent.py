"""Probe agents: probe from a vantage point, send HMAC-signed batches to the core, buffer while it is away.

When the core has been unreachable for ``monitor.agent_silence`` the agents page directly, once. Only one
of them does: agents rank themselves by their position in ``monitor.locations`` and wait one extra
``stagger`` per rank; before paging, an agent asks its higher-ranked peers (``--peer URL``) whether one of
them has already paged or is still alive and will do it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from uptime import notify
from uptime.config import Config
from uptime.configparse import ConfigError
from uptime.core import Core, UptimeError
from uptime.notice import Notice
from uptime.result import Result
from uptime.scheduler import Scheduler
from uptime.server import HttpError, PostHandler

log = logging.getLogger("uptime.agent")

SIGNATURE = "x-uptime-signature"
MAX_SKEW = 300.0
BUFFER = 100_000


def signature(key: bytes, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def agent_key(config: Config, environ: Mapping[str, str]) -> bytes:
    """The shared key; agents and the ingest endpoint refuse to run without one."""
    value = environ.get(config.monitor.agent_key_env)
    if not value:
        raise ConfigError(f"monitor.agent_key_env: environment variable {config.monitor.agent_key_env} is not set; "
                          "set the same random key on the core and every agent")
    return value.encode()


# How long a first failure stays news for the other locations (they ship every 2 s).
RECHECK_WINDOW = 10.0


def ingest_handler(core: Core, config: Config, environ: Mapping[str, str]) -> PostHandler:
    """``POST /ingest``: a signed batch of results from one agent."""
    key = environ.get(config.monitor.agent_key_env, "").encode()
    probed = {t.name for t in config.targets if t.type != "heartbeat"}

    def handle(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not key:
            raise HttpError(403, f"agent ingest is disabled: {config.monitor.agent_key_env} is not set on the core")
        if not hmac.compare_digest(headers.get(SIGNATURE, ""), signature(key, body)):
            raise HttpError(401, "bad or missing X-Uptime-Signature; check that agent and core share the key")
        try:
            data = json.loads(body)
            location = str(data["location"])
            sent_at = float(data["sent_at"])
            results = [Result(**r) for r in data["results"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise HttpError(400, f"malformed batch: {exc}") from exc
        now = core.clock.now()
        if abs(now - sent_at) > MAX_SKEW:
            raise HttpError(400, f"sent_at is {now - sent_at:.0f}s off the core's clock; replay or clock skew "
                                 "(sync the agent's clock)")
        if location not in config.monitor.locations:
            raise HttpError(403, f"location {location!r} is not in monitor.locations {list(config.monitor.locations)}")
        if any(r.location != location for r in results):
            raise HttpError(400, f"a batch from {location!r} may only carry results for {location!r}")
        # The signature proves who sent a batch, not when: a captured batch sent again is refused, since
        # every shipment (a retry too) is stamped anew and so is newer than the last one accepted.
        last = core.store.value("SELECT last_batch FROM agents WHERE location = ?", (location,))
        if last is not None and sent_at <= float(last):
            raise HttpError(409, f"batch of {location!r} sent at {sent_at} is not newer than the last accepted one; "
                                 "a replay (or two agents with the same location)")
        accepted = rejected = 0
        for result in results:
            try:
                core.record(result)
            except UptimeError as exc:
                # A target the core does not know (agent and core configs differ): drop it, keep the rest,
                # or the agent would retry the same batch forever.
                log.warning("ingest from %s: %s", location, exc)
                rejected += 1
                continue
            accepted += 1
        # Ask the agent to re-check what another location just saw fail (its own suspects it re-checks itself).
        recheck = [name for name in core.suspects(RECHECK_WINDOW, location) if name in probed]
        with core.store.tx() as conn:
            conn.execute("INSERT INTO agents (location, last_seen, results, last_batch) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (location) DO UPDATE SET last_seen = excluded.last_seen,"
                         " results = results + excluded.results, last_batch = excluded.last_batch",
                         (location, now, accepted, sent_at))
        return 200, {"accepted": accepted, "rejected": rejected, "recheck": recheck}

    return handle


class Agent:
    """One vantage point: probes, buffers, ships, and watches the core."""

    def __init__(self, config: Config, core_url: str, location: str, environ: Mapping[str, str],
                 peers: list[str] | None = None, stagger: float = 30.0, listen: tuple[str, int] = ("127.0.0.1", 0),
                 ) -> None:
        if location not in config.monitor.locations:
            raise ConfigError(f"--location {location!r} is not in monitor.locations {list(config.monitor.locations)}")
        self.config = config
        self.core_url = core_url.rstrip("/")
        self.location = location
        self.key = agent_key(config, environ)
        self.environ = environ
        self.peers = peers or []
        self.rank = config.monitor.locations.index(location)
        self.stagger = stagger
        self.buffer: deque[Result] = deque(maxlen=BUFFER)  # oldest results go first when the core is away long
        self.last_contact = time.time()
        self.paged = False
        self.deferred = False  # this silence was left to a peer (logged once)
        # Heartbeats are pushed to the core; an agent has nothing to probe for them.
        self.scheduler = Scheduler([t for t in config.targets if t.type != "heartbeat"], location,
                                   config.monitor.concurrency)
        self.httpd = ThreadingHTTPServer(listen, self._handler())
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.stop_event = threading.Event()
        self.serving = False
        self.failures: dict[str, int] = {}  # consecutive failures per target at this location
        self.rechecked: dict[str, float] = {}  # target -> when it was last re-checked for another location

    # -- peers -------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                silent = time.time() - agent.last_contact
                body = json.dumps({"location": agent.location, "rank": agent.rank, "paged": agent.paged,
                                   "core_reachable": silent < agent.config.monitor.agent_silence}).encode()
                self.send_response(200 if self.path == "/peer" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _covered_by_peer(self) -> bool:
        """True if a peer still reaches the core (then only this agent is cut off), already paged, or is
        higher-ranked and alive (it pages first)."""
        for url in self.peers:
            try:
                info = requests.get(f"{url.rstrip('/')}/peer", timeout=2).json()
            except (requests.RequestException, ValueError):
                continue
            if info.get("core_reachable") or info.get("paged") or int(info.get("rank", 99)) < self.rank:
                return True
        return False

    # -- shipping ----------------------------------------------------------------------------------

    def ship(self) -> bool:
        """Send buffered results; keep them if the core does not confirm."""
        batch = list(self.buffer)[:5000]
        body = json.dumps({"location": self.location, "sent_at": time.time(),
                           "results": [asdict(r) for r in batch]}).encode()
        try:
            reply = requests.post(f"{self.core_url}/ingest", data=body, timeout=5, headers={
                "Content-Type": "application/json", "X-Uptime-Signature": signature(self.key, body)})
        except requests.RequestException as exc:
            log.warning("core %s unreachable: %s; %d results buffered", self.core_url, exc, len(self.buffer))
            return False
        if reply.status_code != 200:
            log.warning("core refused batch: HTTP %s %s", reply.status_code, reply.text[:200])
            return False
        for _ in batch:
            self.buffer.popleft()
        self.last_contact = time.time()
        self.paged = False
        self.deferred = False
        self._recheck_for_others(reply)
        return True

    def _recheck_for_others(self, reply: requests.Response) -> None:
        """Re-check at once what the core says another location just saw fail, once per such episode."""
        try:
            names = [str(n) for n in reply.json().get("recheck", [])]
        except (ValueError, AttributeError):
            return
        now = time.monotonic()
        for name in names:
            if now - self.rechecked.get(name, -RECHECK_WINDOW) >= RECHECK_WINDOW:
                self.rechecked[name] = now
                self.scheduler.recheck(name)

    def dead_mans_switch(self) -> bool:
        """Page once when the core has been silent too long and no peer has it covered."""
        silent = time.time() - self.last_contact
        if self.paged or silent < self.config.monitor.agent_silence + self.rank * self.stagger:
            return False
        if self._covered_by_peer():
            if not self.deferred:
                # Once per silence: tells whoever reads this agent's log why it did not page.
                log.info("core silent for %.0f s; a peer still reaches it, has paged or pages first: not paging",
                         silent)
                self.deferred = True
            return False
        notice = Notice(incident_id=0, cell="monitor", event="deadman", resolved=False, down=1, total=1,
                        since=self.last_contact, product=self.config.monitor.product,
                        status_url=f"{self.core_url}/status/")
        steps = self.config.escalation.steps
        channels = tuple(c for c in (steps[0].channels if steps else ()) if self.config.channels[c].kind == "sms")
        sent = 0
        for name in channels:
            notifier = notify.build(self.config.channels[name], self.environ)
            for address in self._phones(steps[0].notify):
                try:
                    notifier.send(notice, address)
                    sent += 1
                except notify.NotifyError as exc:
                    log.error("dead man's switch page via %s failed: %s", name, exc)
        self.paged = sent > 0
        return self.paged

    def _phones(self, who: tuple[str, ...]) -> list[str]:
        cfg = self.config
        names = [(cfg.oncall.primary(time.time()) if w == "oncall" and cfg.oncall else
                  cfg.oncall.secondary(time.time()) if w == "oncall_next" and cfg.oncall else w) for w in who]
        return [p for p in dict.fromkeys(cfg.people[n].phone for n in names) if p]

    def serve_peers(self) -> None:
        """Answer other agents' ``GET /peer`` in a background thread."""
        self.serving = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def close(self) -> None:
        """Stop probing and the peer endpoint."""
        self.scheduler.shutdown()
        if self.serving:  # shutdown() waits for serve_forever and would block if it never ran
            self.httpd.shutdown()
            self.serving = False
        self.httpd.server_close()

    def _recheck(self, results: list[Result]) -> bool:
        """Re-check a first failure at once, as the core does; True when a failure that may confirm an
        outage is among ``results`` (then it is shipped now rather than on the next shipping tick)."""
        urgent = False
        for result in results:
            count = 0 if result.ok else self.failures.get(result.target, 0) + 1
            self.failures[result.target] = count
            if count == 1:
                self.scheduler.recheck(result.target)
            urgent = urgent or 1 <= count <= self.config.thresholds.down_after
        return urgent

    def run(self, duration: float | None = None, ship_every: float = 2.0) -> None:
        """Probe and ship until stopped."""
        self.serve_peers()
        end = None if duration is None else time.monotonic() + duration
        next_ship = 0.0
        try:
            while not self.stop_event.is_set() and (end is None or time.monotonic() < end):
                wake = self.scheduler.due(time.monotonic())
                results = self.scheduler.drain(min(max(wake - time.monotonic(), 0.0), 0.2))
                self.buffer.extend(results)
                if self._recheck(results) or time.monotonic() >= next_ship:
                    if self.buffer or time.time() - self.last_contact > ship_every:
                        self.ship()
                    self.dead_mans_switch()
                    next_ship = time.monotonic() + ship_every
        finally:
            self.close()
