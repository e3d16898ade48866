"""Faster confirmed detection: a first failure is re-checked at once (timeout at most 2 s) instead of at the
next interval; the re-check counts toward down_after, so a page still needs the confirmation and one lost
packet never pages (issue 15, "faster confirmed detection")."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from uptime import config
from uptime.config import Target
from uptime.probe import Result
from uptime.scheduler import Scheduler
from uptime.service import Service

from tests.monitoring.conftest import FIXED_DATES, FakeClock, PinnedClock, TargetServer, closed_port
from tests.monitoring.helpers import base_config
from tests.monitoring.test_service import wait_for

INTERVAL = 5.0


def test_a_recheck_probes_now_with_a_short_timeout_and_keeps_the_regular_slot() -> None:
    target = config.parse({"targets": [{"name": "eu-a", "cell": "eu", "url": "http://127.0.0.1:9/",
                                        "interval": "30s", "timeout": "10s"}]}).targets[0]
    seen: list[float] = []
    done = threading.Event()

    def probe_fn(t: Target, location: str) -> Result:
        seen.append(t.timeout)
        done.set()
        return Result(target=t.name, cell=t.cell, location=location, ts=0.0, ok=False, duration=0.0)

    scheduler = Scheduler([target], "local", 2, probe_fn=probe_fn, rng=random.Random(1))
    try:
        regular = scheduler.heap[0][0]
        assert scheduler.recheck("eu-a") is True
        assert scheduler.recheck("nope") is False
        assert scheduler.due(regular - 1.0) == regular  # the re-check ran; the regular slot did not move
        assert done.wait(5)
        assert seen == [2.0]
        assert scheduler.started == 1
    finally:
        scheduler.shutdown()


@pytest.fixture
def service(tmp_path: Path, http_target: Callable[[], TargetServer]) -> Iterator[tuple[Service, TargetServer]]:
    server = http_target()
    targets = [{"name": "eu-a", "cell": "eu", "url": server.url(), "interval": f"{INTERVAL:g}s", "timeout": "1s"}]
    doc = base_config(tmp_path, targets, {"sms": {"type": "outbox", "directory": str(tmp_path / "outbox")}})
    running = Service(config.parse(doc), clock=PinnedClock(FIXED_DATES["week-a"][0].timestamp()),
                      environ={"UPTIME_ACK_SECRET": "k"}, host="127.0.0.1", port=0)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running, server
    running.stop()
    thread.join(10)


def results(service: Service) -> list[tuple[float, int]]:
    return [(r["ts"], r["ok"]) for r in service.store.query("SELECT ts, ok FROM results ORDER BY ts")]


def test_a_failure_is_confirmed_by_an_immediate_recheck(service: tuple[Service, TargetServer],
                                                         tmp_path: Path) -> None:
    monitor, server = service
    wait_for(lambda: results(monitor))  # one healthy probe first
    server.behaviour.status = 503
    wait_for(lambda: list((tmp_path / "outbox").glob("*.sms")) if (tmp_path / "outbox").exists() else [])
    failed = [ts for ts, ok in results(monitor) if not ok]
    # Regular probes are at least 0.9 intervals apart (10 % jitter); the confirmation came sooner.
    assert failed[1] - failed[0] < 0.9 * INTERVAL


def test_one_lost_packet_never_pages(service: tuple[Service, TargetServer], tmp_path: Path) -> None:
    monitor, server = service
    wait_for(lambda: results(monitor))
    server.behaviour.fail_next = 1
    wait_for(lambda: [ok for _, ok in results(monitor)][-2:] == [0, 1])  # the loss, then its re-check
    assert [ok for _, ok in results(monitor)].count(0) == 1
    assert monitor.store.value("SELECT COUNT(*) FROM incidents") == 0
    assert not (tmp_path / "outbox").exists()


def test_an_agent_rechecks_a_first_failure_at_once(tmp_path: Path, http_target: Callable[[], TargetServer]) -> None:
    from uptime.agent import Agent

    server = http_target()
    server.behaviour.status = 503
    targets = [{"name": "eu-a", "cell": "eu", "url": server.url(), "interval": f"{INTERVAL:g}s", "timeout": "1s"}]
    doc = base_config(tmp_path, targets, {})
    doc["monitor"]["locations"] = ["frankfurt"]
    # The core is unreachable here: the agent keeps its results in its buffer, where the test reads them.
    agent = Agent(config.parse(doc), f"http://127.0.0.1:{closed_port()}", "frankfurt", {"UPTIME_AGENT_KEY": "k"})
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len([r for r in list(agent.buffer) if not r.ok]) >= 2)
    finally:
        agent.stop_event.set()
        thread.join(10)
    first, second = [r.ts for r in list(agent.buffer) if not r.ok][:2]
    assert second - first < 0.9 * INTERVAL  # the re-check, not the next regular probe


def test_other_locations_are_asked_to_recheck_a_first_failure(tmp_path: Path, clock: FakeClock) -> None:
    import json as jsonlib

    from uptime.agent import Agent, ingest_handler, signature
    from uptime.probe import Result as ProbeResult

    from tests.monitoring.helpers import Harness

    doc = base_config(tmp_path, [{"name": "eu-a", "cell": "eu", "url": "http://127.0.0.1:9/", "interval": "30s"}],
                      {})
    doc["monitor"].update({"locations": ["frankfurt", "virginia"], "probe_locally": False})
    h = Harness(doc, clock)
    handle = ingest_handler(h.core, h.config, {"UPTIME_AGENT_KEY": "k"})

    def ship(location: str, ok: bool) -> dict[str, object]:
        result = ProbeResult("eu-a", "eu", location, clock.now(), ok, 0.01, None if ok else "status", "")
        body = jsonlib.dumps({"location": location, "sent_at": clock.now(), "results": [result.__dict__]}).encode()
        status, reply = handle(body, {"x-uptime-signature": signature(b"k", body)})
        assert status == 200
        clock.advance(1)
        return reply

    assert ship("virginia", True)["recheck"] == []
    assert ship("frankfurt", False)["recheck"] == []  # frankfurt's first failure: it re-checks that itself
    assert ship("virginia", True)["recheck"] == ["eu-a"]  # so virginia is asked to look now
    h.close()

    agent = Agent(h.config, "http://127.0.0.1:9", "virginia", {"UPTIME_AGENT_KEY": "k"})

    class Reply:
        def json(self) -> dict[str, object]:
            return {"recheck": ["eu-a", "unknown-target"]}

    try:
        agent._recheck_for_others(Reply())  # type: ignore[arg-type]
        agent._recheck_for_others(Reply())  # type: ignore[arg-type]  # the same episode: asked once only
        assert agent.scheduler.rechecks == [0]
    finally:
        agent.close()
