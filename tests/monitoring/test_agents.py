"""Three real agent processes report to the core: quorum decides, and a dead core is paged about once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml
from uptime import config
from uptime.agent import signature
from uptime.service import Service

from tests.monitoring.conftest import TargetServer, closed_port
from tests.monitoring.helpers import base_config

KEY = "shared-agent-key"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sms_files(outbox: Path) -> list[str]:
    return [p.read_text() for p in sorted(outbox.glob("*.sms"))] if outbox.exists() else []


@pytest.fixture
def cluster(tmp_path: Path, http_target: Callable[[], TargetServer]) -> Iterator[dict[str, object]]:
    target = http_target()
    outbox = tmp_path / "outbox"
    doc = base_config(tmp_path, [{"name": "eu-api", "cell": "eu", "url": target.url(), "interval": "1s",
                                  "timeout": "0.5s"}], {"sms": {"type": "outbox", "directory": str(outbox)}})
    doc["monitor"].update({"locations": ["frankfurt", "virginia", "sydney"], "probe_locally": False,
                           "agent_silence": "10s"})
    doc["thresholds"] = {"down_after": 2, "up_after": 2, "quorum": 2}
    path = tmp_path / "uptime.yaml"
    path.write_text(yaml.safe_dump(doc))
    # No inherited proxy settings: which agent goes through a proxy is decided below, per agent.
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "no_proxy",
                                                                    "all_proxy"}}
    env.update({"UPTIME_AGENT_KEY": KEY, "UPTIME_ACK_SECRET": "k"})
    core = Service(config.load(path), environ=env, host="127.0.0.1", port=0)
    core_thread = threading.Thread(target=core.run, daemon=True)
    core_thread.start()
    ports = [closed_port() for _ in range(3)]
    agents = []
    for rank, location in enumerate(["frankfurt", "virginia", "sydney"]):
        agent_env = dict(env)
        if location == "frankfurt":
            # Frankfurt's egress is broken: its probes go to a proxy that refuses, its reports reach the core.
            dead_proxy = f"http://127.0.0.1:{closed_port()}"
            agent_env.update({"HTTP_PROXY": dead_proxy, "http_proxy": dead_proxy,
                              "NO_PROXY": "localhost", "no_proxy": "localhost"})
        peers = [a for p in ports if p != ports[rank] for a in ("--peer", f"http://127.0.0.1:{p}")]
        log = (tmp_path / f"agent-{location}.log").open("w")
        agents.append((subprocess.Popen(
            [sys.executable, "-m", "uptime.cli", "agent", "--config", str(path), "--core",
             f"http://localhost:{core.server.port}", "--location", location, "--listen", f"127.0.0.1:{ports[rank]}",
             "--stagger", "3", *peers], env=agent_env, stdout=log, stderr=log), log))
    yield {"core": core, "target": target, "outbox": outbox, "agents": agents, "thread": core_thread}
    for proc, log in agents:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    core.stop()
    core_thread.join(10)


def test_quorum_pages_once_and_dead_core_is_reported_once(cluster: dict[str, object]) -> None:
    core = cluster["core"]
    target = cluster["target"]
    outbox = cluster["outbox"]
    assert isinstance(core, Service)
    assert isinstance(target, TargetServer)
    assert isinstance(outbox, Path)

    def states() -> dict[str, str]:
        rows = core.store.query("SELECT location, state FROM target_state WHERE target = 'eu-api'")
        return {r["location"]: r["state"] for r in rows}

    def results_since(mark: float, location: str) -> int:
        return int(core.store.value("SELECT COUNT(*) FROM results WHERE location = ? AND ts > ?",
                                    (location, mark)))

    # Frankfurt alone sees the target down: recorded, but one location is below the quorum of two.
    wait_until(lambda: states() == {"frankfurt": "down", "virginia": "up", "sydney": "up"}, 20,
               "frankfurt down, the others up")
    # Incidents open as results are recorded: three more rounds from every location, and still none.
    mark = time.time()
    wait_until(lambda: min(results_since(mark, loc) for loc in ("frankfurt", "virginia", "sydney")) >= 3, 30,
               "three more rounds of results from every location")
    assert core.store.value("SELECT COUNT(*) AS n FROM incidents") == 0
    assert sms_files(outbox) == []

    # Now the target also fails for Virginia (a regional problem): two of three locations, the quorum.
    target.behaviour.fail_for = ("location=virginia",)
    wait_until(lambda: len(sms_files(outbox)) >= 1, 20, "the quorum page")
    mark = time.time()
    wait_until(lambda: min(results_since(mark, loc) for loc in ("frankfurt", "virginia", "sydney")) >= 3, 30,
               "three more rounds of results after the page")
    wait_until(lambda: core.store.value("SELECT COUNT(*) FROM notifications WHERE status = 'pending'") == 0, 15,
               "the pager has nothing left to send")
    assert states() == {"frankfurt": "down", "virginia": "down", "sydney": "up"}
    pages = sms_files(outbox)
    assert len(pages) == 1
    assert "DOWN eu 1/1 checks" in pages[0]

    core.stop()  # the core dies; agents notice after agent_silence (10 s) and one of them pages
    wait_until(lambda: len(sms_files(outbox)) >= 2, 40, "the dead man's switch page")
    # The other two agents reach their own (staggered) deadlines, ask their peers, and stand down.
    logs = [tmp_log for tmp_log in outbox.parent.glob("agent-*.log")]
    wait_until(lambda: sum("not paging" in log.read_text() for log in logs) >= 2, 40,
               "the other agents standing down")
    fallback = sms_files(outbox)[1:]
    assert len(fallback) == 1
    assert "MONITOR DOWN: no probe agent has reached the uptime core since" in fallback[0]


def test_ingest_rejects_bad_signatures_unknown_locations_and_replays(cluster: dict[str, object]) -> None:
    core = cluster["core"]
    assert isinstance(core, Service)
    url = f"http://127.0.0.1:{core.server.port}/ingest"

    def post(body: dict[str, object], key: str = KEY) -> requests.Response:
        raw = json.dumps(body).encode()
        return requests.post(url, data=raw, headers={"X-Uptime-Signature": signature(key.encode(), raw)}, timeout=5)

    # Ahead of the real sydney agent's own batches (within the 5-minute skew), so they cannot race these.
    now = time.time() + 60
    assert post({"location": "sydney", "sent_at": now, "results": []}).status_code == 200
    again = post({"location": "sydney", "sent_at": now, "results": []})  # the same signed batch, sent again
    assert again.status_code == 409
    assert "not newer than the last accepted one" in again.json()["error"]
    forged = post({"location": "sydney", "sent_at": now, "results": []}, key="guess")
    assert forged.status_code == 401
    assert "X-Uptime-Signature" in forged.json()["error"]
    mars = post({"location": "mars", "sent_at": now, "results": []})
    assert mars.status_code == 403
    assert "'mars' is not in monitor.locations" in mars.json()["error"]
    replay = post({"location": "sydney", "sent_at": now - 3600, "results": []})
    assert replay.status_code == 400
    assert "replay or clock skew" in replay.json()["error"]
    result = {"target": "eu-api", "cell": "eu", "location": "sydney", "ts": now, "ok": True, "duration": 0.01}
    mixed = post({"location": "sydney", "sent_at": now + 1, "results": [result, {**result, "target": "gone"}]})
    reply = mixed.json()
    assert (reply["accepted"], reply["rejected"]) == (1, 1)  # a target the core does not know is dropped
    junk = post({"location": "sydney"})
    assert junk.status_code == 400
    assert "malformed batch" in junk.json()["error"]


def test_dead_mans_switch_is_deduplicated_and_ignores_a_lone_cut_off_agent(tmp_path: Path) -> None:
    from uptime.agent import Agent

    outbox = tmp_path / "outbox"
    doc = base_config(tmp_path, [{"name": "eu-api", "cell": "eu", "url": "http://127.0.0.1:9/"}],
                      {"sms": {"type": "outbox", "directory": str(outbox)}})
    doc["monitor"].update({"locations": ["a", "b", "c"], "agent_silence": "10s"})
    cfg = config.parse(doc)
    env = {"UPTIME_AGENT_KEY": KEY}
    agents = [Agent(cfg, "http://127.0.0.1:9", loc, env, stagger=5) for loc in ("a", "b", "c")]
    for agent in agents:
        agent.peers = [f"http://127.0.0.1:{other.port}" for other in agents if other is not agent]
        agent.serve_peers()
    a, b, c = agents
    try:
        now = time.time()
        a.last_contact = now - 60  # only a is cut off from the core; b and c still reach it
        assert a.dead_mans_switch() is False
        for agent in agents:
            agent.last_contact = now - 60  # now nobody has reached the core for a minute
        assert b.dead_mans_switch() is False  # a ranks first and is alive
        assert a.dead_mans_switch() is True
        assert a.dead_mans_switch() is False  # once
        assert c.dead_mans_switch() is False  # a already paged
        assert len(sms_files(outbox)) == 1
        a.close()  # a dies too: b (rank 1) takes over after its stagger, c stays quiet
        assert c.dead_mans_switch() is False
        assert b.dead_mans_switch() is True
        assert c.dead_mans_switch() is False
        assert len(sms_files(outbox)) == 2
        assert all("MONITOR DOWN" in text for text in sms_files(outbox))
    finally:
        b.close()
        c.close()


def test_agent_buffers_while_the_core_is_away_and_delivers_later(tmp_path: Path) -> None:
    from uptime.agent import Agent
    from uptime.probe import Result

    doc = base_config(tmp_path, [{"name": "eu-api", "cell": "eu", "url": "http://127.0.0.1:9/"}], {})
    doc["monitor"].update({"locations": ["core", "sydney"], "probe_locally": False})
    cfg = config.parse(doc)
    env = {"UPTIME_AGENT_KEY": KEY, "UPTIME_ACK_SECRET": "k"}
    agent = Agent(cfg, f"http://127.0.0.1:{closed_port()}", "sydney", env)
    now = time.time()
    agent.buffer.extend(Result("eu-api", "eu", "sydney", now - 10 + i, i % 2 == 0, 0.01) for i in range(10))
    try:
        assert agent.ship() is False  # core unreachable: nothing is lost
        assert len(agent.buffer) == 10
        core = Service(cfg, environ=env, host="127.0.0.1", port=0)
        core.server.start()
        try:
            agent.core_url = f"http://127.0.0.1:{core.server.port}"
            assert agent.ship() is True
            assert len(agent.buffer) == 0
            assert core.store.value("SELECT COUNT(*) FROM results WHERE location = 'sydney'") == 10
            assert core.store.value("SELECT results FROM agents WHERE location = 'sydney'") == 10
        finally:
            core.close()
    finally:
        agent.close()
