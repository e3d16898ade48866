"""A jittered probe schedule with bounded concurrency: one slow target never delays the others."""

from __future__ import annotations

import dataclasses
import functools
import heapq
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from uptime.clock import Clock, SystemClock
from uptime.probe import probe
from uptime.result import Result
from uptime.targets import Target

log = logging.getLogger("uptime.scheduler")

ProbeFn = Callable[[Target, str], Result]

# A re-check confirms or clears a first failure; waiting the full timeout again would only delay the page.
RECHECK_TIMEOUT = 2.0


class Scheduler:
    """Runs every target at its interval (± jitter) on a pool of ``concurrency`` worker threads.

    A target whose previous probe is still running skips its slot instead of queueing behind itself, so a
    hanging target costs at most one worker and never more than its own timeout. :meth:`recheck` asks for
    one extra probe now (timeout at most ``RECHECK_TIMEOUT``) without moving the target's regular slot.
    """

    def __init__(self, targets: list[Target], location: str, concurrency: int,
                 probe_fn: ProbeFn | None = None, rng: random.Random | None = None,
                 jitter: float = 0.1, clock: Clock | None = None) -> None:
        self.targets = targets
        self.location = location
        # Results carry the monitor's clock, the one the core judges freshness and incidents by.
        self.clock = clock or SystemClock()
        self.probe_fn = probe_fn or self._probe
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.jitter = jitter
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="probe")
        self.results: queue.Queue[Result] = queue.Queue()
        self.in_flight: set[str] = set()
        self.lock = threading.Lock()
        self.skipped = 0
        self.started = 0
        self.rechecks: list[int] = []
        self.index = {t.name: i for i, t in enumerate(targets)}
        # Spread the first probes over one interval so 1,000 targets do not all fire in the same instant.
        start = time.monotonic()
        self.heap = [(start + self.rng.uniform(0, t.interval), i) for i, t in enumerate(targets)]
        heapq.heapify(self.heap)

    def _probe(self, target: Target, location: str) -> Result:
        return probe(target, location, now=self.clock.now())

    def _next_delay(self, target: Target) -> float:
        spread = min(self.jitter * target.interval, 5.0)
        return target.interval + self.rng.uniform(-spread, spread)

    def _done(self, name: str, future: Future[Result]) -> None:
        with self.lock:
            self.in_flight.discard(name)
        exc = future.exception()
        if exc is not None:  # a bug in a prober must not stop monitoring the others
            log.error("probe of %s crashed: %r", name, exc)
            return
        self.results.put(future.result())

    def recheck(self, name: str) -> bool:
        """Probe target ``name`` again at the next :meth:`due`; False if it is not scheduled here."""
        index = self.index.get(name)
        if index is None:
            return False
        with self.lock:
            self.rechecks.append(index)
        return True

    def _start(self, target: Target) -> bool:
        with self.lock:
            if target.name in self.in_flight:
                self.skipped += 1
                return False
            self.in_flight.add(target.name)
        self.started += 1
        future = self.pool.submit(self.probe_fn, target, self.location)
        future.add_done_callback(functools.partial(self._done, target.name))
        return True

    def due(self, now: float) -> float:
        """Start every probe that is due at monotonic time ``now``; return when the next one is due."""
        with self.lock:
            rechecks, self.rechecks = self.rechecks, []
        for index in dict.fromkeys(rechecks):
            target = self.targets[index]
            # A probe already in flight will answer the same question; then the re-check is not needed.
            self._start(dataclasses.replace(target, timeout=min(target.timeout, RECHECK_TIMEOUT)))
        while self.heap and self.heap[0][0] <= now:
            due, index = heapq.heappop(self.heap)
            target = self.targets[index]
            heapq.heappush(self.heap, (max(due + self._next_delay(target), now), index))
            self._start(target)
        return self.heap[0][0] if self.heap else now + 1.0

    def drain(self, timeout: float) -> list[Result]:
        """Results that arrived, waiting up to ``timeout`` for the first one."""
        out: list[Result] = []
        try:
            out.append(self.results.get(timeout=max(timeout, 0.0)))
            while True:
                out.append(self.results.get_nowait())
        except queue.Empty:
            pass
        return out

    def shutdown(self) -> None:
        """Stop accepting work; running probes finish within their timeouts."""
        self.pool.shutdown(wait=False, cancel_futures=True)
