"""The running monitor in real time: probes on a schedule, pages through the outbox, serves HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from uptime import config, tokens
from uptime.config import Target
from uptime.probe import Result, probe
from uptime.scheduler import Scheduler
from uptime.service import Service

from tests.monitoring.conftest import FIXED_DATES, PinnedClock, TargetServer
from tests.monitoring.helpers import base_config


def wait_for(check: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def running(request: pytest.FixtureRequest, tmp_path: Path,
            http_target: Callable[[], TargetServer]) -> Iterator[tuple[Service, list[TargetServer]]]:
    """The monitor in real time from a pinned date (``week-a`` unless the test asks for another)."""
    start, _ = FIXED_DATES[getattr(request, "param", "week-a")]
    servers = [http_target(), http_target()]
    targets = [{"name": f"eu-{i}", "cell": "eu", "url": s.url(), "interval": "1s", "timeout": "0.5s"}
               for i, s in enumerate(servers)]
    doc = base_config(tmp_path, targets, {"sms": {"type": "outbox", "directory": str(tmp_path / "outbox")}})
    # Probes are jittered, so the two targets fail a moment apart; group_wait makes it one 2/2 page.
    doc["thresholds"]["group_wait"] = "2s"
    service = Service(config.parse(doc), clock=PinnedClock(start.timestamp()),
                      environ={"UPTIME_ACK_SECRET": "k", "UPTIME_AGENT_KEY": "agent-key",
                               "UPTIME_ALERTMANAGER_TOKEN": "am-token"}, host="127.0.0.1", port=0)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    yield service, servers
    service.stop()
    thread.join(10)


@pytest.mark.parametrize("running", list(FIXED_DATES), indirect=True)
def test_outage_reaches_the_outbox_and_ack_link_works(running: tuple[Service, list[TargetServer]],
                                                      tmp_path: Path, request: pytest.FixtureRequest) -> None:
    service, servers = running
    on_call = FIXED_DATES[request.node.callspec.params["running"]][1]
    phone = {"alice": "+15550111", "bob": "+15550112"}[on_call]
    base = f"http://127.0.0.1:{service.server.port}"
    for server in servers:
        server.behaviour.status = 502
    files = wait_for(lambda: sorted((tmp_path / "outbox").glob("*.sms")) if (tmp_path / "outbox").exists() else [])
    assert isinstance(files, list)
    assert len(files) == 1
    text = files[0].read_text()
    assert text.startswith(f"To: {phone}\n\n[slotstack] DOWN eu 2/2 checks since ")
    token = tokens.sign(1, b"k")
    assert f"Ack: https://uptime.example.com/ack/{token}" in text

    page = requests.get(f"{base}/ack/{token}", timeout=5)
    assert page.status_code == 200
    assert "<form method=post>" in page.text
    assert service.store.value("SELECT acked_at FROM incidents WHERE id = 1") is None
    forged = requests.post(f"{base}/ack/1.AAAAAAAAAAAAAAAAAAAAAA", data={"by": "mallory"}, timeout=5)
    assert forged.status_code == 403
    assert "not valid" in forged.json()["error"]
    acked = requests.post(f"{base}/ack/{token}", data={"by": on_call}, timeout=5)
    assert acked.json() == {"incident": 1, "acknowledged": True, "already": False}
    assert service.store.value("SELECT acked_by FROM incidents WHERE id = 1") == on_call

    metrics = requests.get(f"{base}/metrics", timeout=5).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics) for s in family.samples}
    assert samples[("probe_success", (("cell", "eu"), ("location", "local"), ("target", "eu-0")))] == 0
    assert samples[("probe_http_status_code", (("cell", "eu"), ("location", "local"), ("target", "eu-1")))] == 502
    assert samples[("uptime_incidents_open", (("cell", "eu"),))] == 1
    assert samples[("uptime_notifications_total", (("channel", "sms"), ("result", "success")))] == 1
    assert samples[("uptime_probe_errors_total", (("kind", "status"),))] >= 4


def test_http_errors_are_4xx_with_a_reason(running: tuple[Service, list[TargetServer]]) -> None:
    service, _ = running
    base = f"http://127.0.0.1:{service.server.port}"
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404
    put = requests.put(f"{base}/metrics", timeout=5)
    assert (put.status_code, put.headers["Allow"]) == (405, "GET, HEAD, POST")
    huge = requests.post(f"{base}/alertmanager", data=b"x" * (5 << 20), timeout=10)
    assert huge.status_code == 413
    assert "over the 4194304 byte limit" in huge.json()["error"]
    home = requests.get(f"{base}/", timeout=5, allow_redirects=False)
    assert (home.status_code, home.headers["Location"]) == (302, "/status/")
    assert requests.get(f"{base}/status/../uptime.db", timeout=5).status_code == 404
    assert requests.post(f"{base}/ingest", data=b"{}", timeout=5).status_code == 401
    assert requests.post(f"{base}/alertmanager", data=b'{"version": "4"}', timeout=5).status_code == 401
    auth = {"Authorization": "Bearer am-token"}
    bad = requests.post(f"{base}/alertmanager", data=b'{"version": "3"}', headers=auth, timeout=5)
    assert bad.status_code == 400
    assert "version" in bad.json()["error"]
    assert requests.post(f"{base}/alertmanager", data=b"not json", headers=auth, timeout=5).status_code == 400
    reply = wait_for(lambda: (r := requests.get(f"{base}/status/status.json", timeout=5)).ok and r)
    assert isinstance(reply, requests.Response)
    assert [c["cell"] for c in reply.json()["cells"]] == ["eu"]
    html = requests.get(f"{base}/status/", timeout=5)
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<svg" in html.text


def test_slow_target_does_not_delay_the_others(http_target: Callable[[], TargetServer]) -> None:
    slow, fast = http_target(), http_target()
    slow.behaviour.delay = 3.0
    targets = [Target(name="slow", cell="us", url=slow.url(), interval=1.0, timeout=2.5)] + [
        Target(name=f"fast-{i}", cell="us", url=fast.url(), interval=1.0, timeout=1.0) for i in range(3)]
    scheduler = Scheduler(targets, "local", concurrency=2)
    results: list[Result] = []

    def fast_probes_during_the_slow_one() -> int:
        slow_runs = [r for r in results if r.target == "slow"]
        if not slow_runs:
            return 0
        first = slow_runs[0]
        return sum(1 for r in results if r.target != "slow" and first.ts < r.ts < first.ts + first.duration)

    # Wait for events (the first slow probe finished, and fast probes ran meanwhile), not for a time window.
    deadline = time.monotonic() + 30.0
    while fast_probes_during_the_slow_one() < 2 and time.monotonic() < deadline:
        wake = scheduler.due(time.monotonic())
        results += scheduler.drain(min(max(wake - time.monotonic(), 0), 0.1))
    scheduler.shutdown()
    # While the slow probe held one worker for 2.5 s, the other worker kept probing the fast targets, and the
    # slow target's next slot was skipped instead of queueing a second slow probe behind the first.
    assert fast_probes_during_the_slow_one() >= 2, [(r.target, r.ts, r.duration) for r in results]
    assert scheduler.skipped >= 1


def test_first_probes_are_spread_over_the_interval() -> None:
    targets = [Target(name=f"t{i}", cell="us", url="http://127.0.0.1:1/", interval=30.0, timeout=1.0)
               for i in range(200)]
    scheduler = Scheduler(targets, "local", concurrency=1)
    offsets = sorted(due - min(d for d, _ in scheduler.heap) for due, _ in scheduler.heap)
    scheduler.shutdown()
    assert offsets[-1] > 25  # not all at once...
    assert sum(1 for o in offsets if o < 3) < 50  # ...and no thundering herd in the first tenth


def test_probe_results_round_trip_through_json() -> None:
    result = probe(Target(name="x", cell="us", url="http://127.0.0.1:1/", timeout=0.5))
    assert Result(**json.loads(json.dumps(result.__dict__))) == result


def test_generated_ack_key_survives_a_restart(tmp_path: Path) -> None:
    cfg = config.parse(base_config(tmp_path, [{"name": "us-a", "cell": "us", "url": "http://127.0.0.1:9/"}], {}))
    first = Service(cfg, environ={}, port=0)
    key = first.secret
    first.close()
    second = Service(cfg, environ={}, port=0)
    try:
        assert second.secret == key  # ack links sent before the restart keep working
        assert len(key) >= 32
    finally:
        second.close()
    configured = Service(cfg, environ={"UPTIME_ACK_SECRET": "from-env"}, port=0)
    configured.close()
    assert configured.secret == b"from-env"


def test_a_hanging_smtp_server_does_not_delay_the_sms(tmp_path: Path, http_target: Callable[[], TargetServer]) -> None:
    import socket

    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen(8)  # accepts connections (kernel backlog) and never says a word
    server = http_target()
    server.behaviour.status = 500
    channels = {"sms": {"type": "outbox", "directory": str(tmp_path / "outbox")},
                "mail": {"type": "email", "host": "127.0.0.1", "port": tarpit.getsockname()[1], "starttls": False,
                         "from": "u@example.com", "timeout": "6s"}}
    steps = [{"after": "0s", "notify": ["oncall"], "channels": ["mail", "sms"]}]
    targets = [{"name": "us-a", "cell": "us", "url": server.url(), "interval": "1s", "timeout": "0.5s"}]
    service = Service(config.parse(base_config(tmp_path, targets, channels, steps)),
                      environ={"UPTIME_ACK_SECRET": "k"}, port=0)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: service.store.value("SELECT COUNT(*) FROM notifications") == 2, timeout=10)
        planned = time.monotonic()
        wait_for(lambda: list((tmp_path / "outbox").glob("*.sms")), timeout=10)
        assert time.monotonic() - planned < 3  # the SMS went out while the email is stuck in SMTP
        assert service.store.value("SELECT status FROM notifications WHERE channel = 'mail'") == "pending"
    finally:
        service.stop()
        thread.join(30)
        tarpit.close()


def test_a_forged_alertmanager_request_pages_nobody(running: tuple[Service, list[TargetServer]],
                                                    tmp_path: Path) -> None:
    """Finding 3 of issue 15: a hand-written request used to send an SMS to on-call."""
    service, _ = running
    forged = {"version": "4", "status": "firing", "groupLabels": {"cell": "eu"}, "groupKey": "x",
              "alerts": [{"status": "firing", "labels": {"alertname": "Fake", "cell": "eu", "target": "eu-0"},
                          "startsAt": "2026-03-03T14:02:10Z", "fingerprint": "f"}]}
    reply = requests.post(f"http://127.0.0.1:{service.server.port}/alertmanager", json=forged, timeout=5)
    assert reply.status_code == 401
    assert not (tmp_path / "outbox").exists()
