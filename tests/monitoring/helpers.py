"""Building blocks for monitor tests: a config dict, and a harness that probes and pages on a fake clock."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from uptime import config, heartbeat, notify
from uptime.core import Core
from uptime.metrics import Metrics
from uptime.paging import Pager
from uptime.probe import probe
from uptime.store import Store

from tests.monitoring.conftest import FakeClock

SID = "AC" + "0123456789abcdef" * 2
ACK_SECRET = b"test-ack-secret"


def base_config(tmp_path: Path, targets: list[dict[str, Any]], channels: dict[str, Any],
                steps: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A config document with on-call alice (then bob) in UTC and the given channels."""
    doc: dict[str, Any] = {
        "monitor": {"database": str(tmp_path / "uptime.db"), "status_dir": str(tmp_path / "status"),
                    "public_url": "https://uptime.example.com", "runbook_url": "https://example.com/runbook"},
        "thresholds": {"down_after": 2, "up_after": 2},
        "targets": targets,
        "channels": channels,
        "people": {"alice": {"email": "alice@example.com", "phone": "+15550111"},
                   "bob": {"email": "bob@example.com", "phone": "+15550112"},
                   "dana": {"email": "dana@example.com", "phone": "+15550114"}},
        "oncall": {"timezone": "UTC", "rotation": ["alice", "bob"], "handoff": "monday 09:00",
                   "start": "2026-03-02"},
        "escalation": {"steps": steps if steps is not None else
                       [{"after": "0m", "notify": ["oncall"], "channels": list(channels)}]},
    }
    doc.update(extra)
    return doc


class Harness:
    """Core + Pager on a fake clock; ``round()`` probes every target for real at the clock's time."""

    def __init__(self, doc: dict[str, Any], clock: FakeClock, environ: Mapping[str, str] | None = None) -> None:
        self.config = config.parse(doc)
        self.clock = clock
        self.environ = dict(environ or {})
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.open()

    def open(self) -> None:
        self.store = Store(self.config.monitor.database)
        self.core = Core(self.config, self.store, self.clock, self.metrics)
        self.core.resume()  # as the service does on every start
        notifiers = {name: notify.build(ch, self.environ) for name, ch in self.config.channels.items()}
        self.pager = Pager(self.core, notifiers, ACK_SECRET)

    def restart(self) -> None:
        """Simulate a process restart: drop every in-memory object, keep the database file."""
        self.store.close()
        self.open()

    def round(self, advance: float = 30.0) -> None:
        """Probe all targets now, record, plan and send; then move the clock on."""
        for target in self.config.targets:
            if target.type == "heartbeat":  # judged from its pings, as the service does
                self.core.record(heartbeat.check(self.store, target, "local", self.clock.now()))
            else:
                self.core.record(probe(target, now=self.clock.now()))
        self.pager.tick()
        self.clock.advance(advance)

    def close(self) -> None:
        self.store.close()
