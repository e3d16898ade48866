"""End to end: real blackbox_exporter, Prometheus and Alertmanager with the generated files; a target goes
down and the SMS request reaches the provider fake through the monitor's /alertmanager endpoint."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs

import pytest
from uptime import alertmanager, promexport
from uptime.server import MonitorServer

from infra.local.lifecycle.ports import wait_port
from tests.monitoring.conftest import FakeClock, ProviderFake, TargetServer, closed_port
from tests.monitoring.helpers import SID, Harness, base_config

pytestmark = pytest.mark.prometheus


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(name: str, *cmd: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        proc.terminate()
        proc.wait(15)
        log.close()


def test_target_down_pages_through_prometheus_and_alertmanager(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
    processes: Callable[..., subprocess.Popen[bytes]],
) -> None:
    target = http_target()
    channels = {"sms": {"type": "twilio", "account_sid": SID, "auth_token_env": "TW", "from": "+15550100",
                        "api_base": provider.url}}
    doc = base_config(tmp_path, [{"name": "us-api", "cell": "us", "url": target.url(), "interval": "1s",
                                  "timeout": "500ms"}], channels)
    doc["thresholds"]["group_wait"] = "1s"
    h = Harness(doc, clock, {"TW": "tok"})
    monitor = MonitorServer(h.core, h.registry, b"k", tmp_path)
    token = tmp_path / "uptime_token"
    token.write_text("am-secret\n")  # Alertmanager trims the trailing newline of credentials files
    alertmanager.Receiver(h.config, h.pager.notifiers, h.core, b"k",
                          {"UPTIME_ALERTMANAGER_TOKEN": "am-secret"}).install(monitor)
    monitor.start()
    bb, prom, am = closed_port(), closed_port(), closed_port()
    out = tmp_path / "prom"
    promexport.write(h.config, out, f"http://127.0.0.1:{monitor.port}", f"127.0.0.1:{bb}", f"127.0.0.1:{am}",
                     str(token))
    try:
        processes("blackbox", "prometheus-blackbox-exporter", f"--config.file={out / 'blackbox.yml'}",
                  f"--web.listen-address=127.0.0.1:{bb}")
        processes("alertmanager", "prometheus-alertmanager", f"--config.file={out / 'alertmanager.yml'}",
                  f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am}",
                  "--cluster.listen-address=")
        processes("prometheus", "prometheus", f"--config.file={out / 'prometheus.yml'}",
                  f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom}")
        for port in (bb, am, prom):
            wait_port(port)
        time.sleep(3)  # a few healthy scrapes first
        assert provider.requests == []
        target.behaviour.status = 503
        deadline = time.monotonic() + 45
        while not provider.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        assert provider.requests, "no SMS within 45 s; see prometheus.log / alertmanager.log in " + str(tmp_path)
        form = {k: v[0] for k, v in parse_qs(provider.requests[0].body.decode()).items()}
        assert form["To"] == "+15550111"
        assert form["Body"].startswith("[slotstack] DOWN us 1/1 checks since ")
        assert " UTC: us-api: UptimeTargetDown. Ack: https://uptime.example.com/ack/am1." in form["Body"]
    finally:
        monitor.stop()
        h.close()
