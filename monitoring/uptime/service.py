"""``uptime run``: wire config, store, core, pager, scheduler and HTTP server together and loop."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from uptime import heartbeat, history, notify, state, statuspage
from uptime.clock import Clock, SystemClock
from uptime.config import Config, Target
from uptime.core import Core
from uptime.metrics import Metrics
from uptime.paging import Pager
from uptime.probe import probe
from uptime.result import Result
from uptime.scheduler import ProbeFn, Scheduler
from uptime.server import MonitorServer
from uptime.store import Store

log = logging.getLogger("uptime")

# The public page follows an outage within seconds; writing it costs a few queries per cell.
STATUS_EVERY = 10.0
PRUNE_EVERY = 3600.0
TICK_EVERY = 1.0


def ack_secret(store: Store, config: Config, environ: Mapping[str, str]) -> bytes:
    """The ack-link key from the environment, else one generated once and kept in the database."""
    value = environ.get(config.monitor.ack_secret_env)
    if value:
        return value.encode()
    with store.tx() as conn:
        row = conn.execute("SELECT value FROM kv WHERE key = 'ack_secret'").fetchone()
        if row:
            return str(row["value"]).encode()
        generated = secrets.token_urlsafe(32)
        conn.execute("INSERT INTO kv (key, value) VALUES ('ack_secret', ?)", (generated,))
    log.warning("%s is not set; generated an acknowledgement key and stored it in %s",
                config.monitor.ack_secret_env, store.path)
    return generated.encode()


class Service:
    """The running monitor. ``host``/``port`` override ``monitor.listen`` (port 0 picks a free port)."""

    def __init__(self, config: Config, clock: Clock | None = None, environ: Mapping[str, str] | None = None,
                 host: str | None = None, port: int | None = None, probe_fn: ProbeFn | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        env = os.environ if environ is None else environ
        self.environ = env
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        # Secrets first: a missing one must fail before anything is created on disk.
        self.notifiers = {name: notify.build(ch, env) for name, ch in config.channels.items()}
        self.store = Store(config.monitor.database)
        self.core = Core(config, self.store, self.clock, self.metrics)
        self.core.resume()
        self.secret = ack_secret(self.store, config, env)
        self.pager = Pager(self.core, self.notifiers, self.secret)
        self.server = MonitorServer(
            self.core, self.registry, self.secret, config.monitor.status_dir,
            host if host is not None else config.monitor.listen_host,
            port if port is not None else config.monitor.listen_port,
        )
        self._register_endpoints()
        # With agents at every location the core may only evaluate (probe_locally: false).
        local = list(config.targets) if config.monitor.probe_locally else []
        self.scheduler = Scheduler(local, config.monitor.location, config.monitor.concurrency,
                                   probe_fn=probe_fn or self._probe, clock=self.clock)
        self.stop_event = threading.Event()
        # Set when there may be something to send now, so a page does not wait for the next tick.
        self.wakes = {name: threading.Event() for name in self.notifiers}
        self.confirmed: set[tuple[str, str]] = set()  # (target, location) seen down since this start

    def _probe(self, target: Target, location: str) -> Result:
        # A heartbeat is judged from the pings in the database; everything else is probed over the network.
        if target.type == "heartbeat":
            return heartbeat.check(self.store, target, location, self.clock.now())
        return probe(target, location, now=self.clock.now())

    def _register_endpoints(self) -> None:
        from uptime import agent, alertmanager  # optional features live in their own modules

        self.server.posts["/ingest"] = agent.ingest_handler(self.core, self.config, self.environ)
        self.server.ping = heartbeat.handler(self.config, self.store, self.secret, self.clock)
        alertmanager.Receiver(self.config, self.notifiers, self.core, self.secret, self.environ).install(self.server)

    def run(self, duration: float | None = None) -> None:
        """Serve and probe until :meth:`stop` (or for ``duration`` seconds)."""
        self.server.start()
        # One sender thread per channel: a slow SMTP server never delays probing, nor the SMS.
        senders = [threading.Thread(target=self._send_loop, args=(name,), name=f"send-{name}", daemon=True)
                   for name in self.notifiers]
        for sender in senders:
            sender.start()
        log.info("monitor listening on http://%s:%d", *self.server.httpd.server_address[:2])
        end = None if duration is None else time.monotonic() + duration
        next_tick = next_status = next_prune = 0.0
        try:
            while not self.stop_event.is_set() and (end is None or time.monotonic() < end):
                try:
                    next_tick, next_status, next_prune = self._step(next_tick, next_status, next_prune)
                except Exception:
                    # A monitor that stops on an unexpected error pages nobody; log it and keep going.
                    log.exception("monitor loop step failed; continuing")
                    self.stop_event.wait(1.0)
        finally:
            self.stop_event.set()
            for sender in senders:
                sender.join(30)
            self.close()

    def _send_loop(self, channel: str) -> None:
        wake = self.wakes[channel]
        while not self.stop_event.is_set():
            wake.wait(TICK_EVERY)
            wake.clear()
            if self.stop_event.is_set():
                break
            try:
                self.pager.dispatch(channel)
            except Exception:
                log.exception("sending via %s failed unexpectedly; retrying", channel)

    def _step(self, next_tick: float, next_status: float, next_prune: float) -> tuple[float, float, float]:
        """One pass: start due probes, record results, page, and now and then write the page and prune."""
        mono = time.monotonic()
        wake = self.scheduler.due(mono)
        urgent = False
        for result in self.scheduler.drain(min(max(wake - mono, 0.0), 0.2)):
            new = self.core.record(result)
            if not result.ok and new.state == state.SUSPECT:
                # A first failure is confirmed (or cleared) by an immediate re-check, not the next interval.
                self.scheduler.recheck(result.target)
            # Only the result that confirms a failure is urgent; planning on every failing result of a long
            # outage would repeat the pager's queries several times a second for nothing new.
            key = (result.target, result.location)
            if new.state == state.DOWN and key not in self.confirmed:
                urgent = True
            if new.state in state.FAILING:
                self.confirmed.add(key)
            else:
                self.confirmed.discard(key)
        mono = time.monotonic()
        if urgent or mono >= next_tick:
            self.core.heartbeat()
            self.pager.plan()
            for event in self.wakes.values():
                event.set()
            next_tick = mono + TICK_EVERY
        # A confirmed failure shows at once, but the page is written at most once a second.
        if mono >= next_status or (urgent and mono >= next_status - STATUS_EVERY + 1.0):
            statuspage.write(self.core, self.config.monitor.status_dir, self.clock.now())
            next_status = mono + STATUS_EVERY
        if mono >= next_prune:
            history.prune(self.store, self.clock.now())
            next_prune = mono + PRUNE_EVERY
        return next_tick, next_status, next_prune

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self.stop_event.set()
        for event in self.wakes.values():
            event.set()

    def close(self) -> None:
        """Release the port, the worker threads and the database."""
        self.scheduler.shutdown()
        self.server.stop()
        self.store.close()
