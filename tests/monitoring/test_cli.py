"""The ``uptime`` command line: exit codes, messages, and ``uptime run`` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml
from uptime import cli, config
from uptime.clock import SystemClock
from uptime.core import Core
from uptime.probe import Result
from uptime.store import Store

from tests.monitoring.conftest import ProviderFake, TargetServer
from tests.monitoring.helpers import SID, base_config

EXAMPLE = Path(__file__).resolve().parents[2] / "monitoring" / "uptime.example.yaml"


def write(tmp_path: Path, doc: dict[str, object]) -> Path:
    path = tmp_path / "uptime.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_check_accepts_the_example_and_names_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK: 9 targets in cells us, eu, au" in out
    assert "warning: channels.sms.auth_token_env: environment variable TWILIO_AUTH_TOKEN is not set" in out
    assert cli.main(["check", "--strict", str(EXAMPLE)]) == 1
    bad = yaml.safe_load(EXAMPLE.read_text())
    bad["targets"][3]["expect_status"] = "two hundred"
    assert cli.main(["check", str(write(tmp_path, bad))]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: targets[3].expect_status: 'two hundred' must be HTTP status codes 100..599")


def _seeded(tmp_path: Path, provider: ProviderFake) -> Path:
    targets = [{"name": "eu-a", "cell": "eu", "url": "http://127.0.0.1:9/a"}]
    channels = {"sms": {"type": "twilio", "account_sid": SID, "auth_token_env": "TW", "from": "+15550100",
                        "api_base": provider.url}}
    path = write(tmp_path, base_config(tmp_path, targets, channels))
    cfg = config.load(path)
    core = Core(cfg, Store(cfg.monitor.database), SystemClock())
    now = core.clock.now()
    core.record(Result("eu-a", "eu", "local", now - 30, False, 1.0, "timeout", "no answer"))
    core.record(Result("eu-a", "eu", "local", now, False, 1.0, "timeout", "no answer"))
    core.store.close()
    return path


def test_status_ack_and_silence(tmp_path: Path, provider: ProviderFake, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_seeded(tmp_path, provider))
    assert cli.main(["status", "--config", path]) == 0
    out = capsys.readouterr().out
    assert "eu       DOWN (1/1: eu-a)" in out
    assert "incident 1: eu since" in out
    assert "NOT acknowledged" in out
    assert cli.main(["ack", "1", "--by", "alice", "--config", path]) == 0
    assert capsys.readouterr().out == "incident 1 acknowledged\n"
    assert cli.main(["ack", "1", "--config", path]) == 0
    assert capsys.readouterr().out == "incident 1 was already acknowledged\n"
    assert cli.main(["ack", "99", "--config", path]) == 2
    assert "incident 99 does not exist; `uptime status` lists open incidents" in capsys.readouterr().err
    assert cli.main(["silence", "--cell", "eu", "--duration", "2h", "--reason", "db upgrade", "--config", path]) == 0
    assert capsys.readouterr().out.startswith("silence 1: eu until ")
    assert cli.main(["status", "--config", path]) == 0
    assert "eu       DOWN (1/1: eu-a) [not paging: silence: db upgrade]" in capsys.readouterr().out
    assert cli.main(["silence", "--cell", "mars", "--duration", "2h", "--reason", "x", "--config", path]) == 2
    assert "cell 'mars' has no targets; known cells: eu" in capsys.readouterr().err


def test_test_notify_sends_through_the_channel(tmp_path: Path, provider: ProviderFake,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(_seeded(tmp_path, provider))
    monkeypatch.setenv("TW", "token")
    assert cli.main(["test-notify", "sms", "--to", "+15550111", "--config", path]) == 0
    assert "To=%2B15550111" in provider.requests[0].body.decode()
    assert "TEST+message" in provider.requests[0].body.decode()
    provider.status = 400
    assert cli.main(["test-notify", "sms", "--to", "+15550111", "--config", path]) == 1
    assert "error: twilio: HTTP 400" in capsys.readouterr().err
    assert cli.main(["test-notify", "pager", "--config", path]) == 2


def test_run_serves_on_the_requested_port_and_stops_on_sigterm(
    tmp_path: Path, http_target: Callable[[], TargetServer],
) -> None:
    server = http_target()
    targets = [{"name": "us-a", "cell": "us", "url": server.url(), "interval": "1s", "timeout": "0.5s"}]
    path = write(tmp_path, base_config(tmp_path, targets, {"sms": {"type": "outbox",
                                                                    "directory": str(tmp_path / "sms")}}))
    log = (tmp_path / "stderr.log").open("w")
    with log, subprocess.Popen([sys.executable, "-m", "uptime.cli", "run", "--config", str(path), "--listen",
                                "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log, text=True,
                               env={**os.environ, "UPTIME_ACK_SECRET": "k"}) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("uptime: listening on http://127.0.0.1:"), (tmp_path / "stderr.log").read_text()
            port = int(line.rsplit(":", 1)[1])
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok\n"
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0


def test_run_with_a_missing_secret_fails_before_touching_disk(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    channels = {"sms": {"type": "twilio", "account_sid": SID, "auth_token_env": "UPTIME_TEST_UNSET_TOKEN",
                        "from": "+15550100"}}
    doc = base_config(tmp_path / "state", [{"name": "eu-a", "cell": "eu", "url": "http://127.0.0.1:9/"}], channels)
    path = write(tmp_path, doc)
    assert cli.main(["run", "--config", str(path), "--listen", "127.0.0.1:0"]) == 2
    assert "environment variable UPTIME_TEST_UNSET_TOKEN is not set" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
