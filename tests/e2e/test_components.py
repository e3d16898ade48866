"""The local stack's parts on their own, with real sockets, processes and config parsers.

Faster than the whole stack and precise about each part's promise; marked e2e because they start
real processes and servers.
"""

from __future__ import annotations

import email
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from uptime import config as uptime_config

from infra import environment
from infra.errors import SlotstackError
from infra.local import procs
from infra.local.drills import pitr
from infra.local.lifecycle import monitor_config, ports, services
from infra.local.paths import StateDir
from tests.e2e.conftest import free_port_base

pytestmark = pytest.mark.e2e


def test_smtp_sink_saves_each_message_as_an_eml_file(tmp_path: Path) -> None:
    port = free_port_base()
    outbox = tmp_path / "outbox"
    started = services.start_smtp(port, outbox, tmp_path / "smtp.log")
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "uptime@x.test", "oncall@example.com", "DOWN eu"
        message.set_content("eu is down")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)
        files = sorted(outbox.glob("*.eml"))
        assert len(files) == 1
        saved = email.message_from_bytes(files[0].read_bytes(), policy=default)
        assert saved["Subject"] == "DOWN eu"
        assert saved["X-Envelope-To"] == "oncall@example.com"
        assert saved.get_content().strip() == "eu is down"
    finally:
        procs.stop(started[1], proc=started[0])
    assert started[0].returncode == 0, "the sink should exit cleanly on SIGTERM"


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    # A parent that forks a child which ignores SIGTERM: stop must still leave nothing behind.
    script = ("import os, signal, subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
              "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
              "time.sleep(600)\n")
    proc, record = procs.spawn("forker", [sys.executable, "-c", script], env=procs.process_env({}),
                               log=tmp_path / "forker.log")
    deadline = time.monotonic() + 10
    while len(procs.group_members(record.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(procs.group_members(record.pid)) == 2
    procs.stop(record, grace=1.0, proc=proc)
    assert procs.group_members(record.pid) == []
    assert not procs.is_running(record)


def test_a_recycled_pid_is_not_mistaken_for_ours() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ticks = procs.start_ticks(proc.pid)
        assert ticks is not None
        assert procs.is_running(procs.ProcessRecord("x", proc.pid, ticks, ""))
        assert not procs.is_running(procs.ProcessRecord("x", proc.pid, ticks - 1, ""))
    finally:
        proc.kill()
        proc.wait()


def test_port_plan_defaults_and_port_base() -> None:
    env = environment.load("local")
    default_plan = ports.plan(env)
    assert default_plan.cells["us"] == ports.CellPorts(8101, 9101, 10101)
    assert default_plan.smtp == 8025
    assert default_plan.monitor == 8470
    packed = ports.plan(env, 40000)
    assert sorted(p for p, _ in packed.owners()) == list(range(40000, 40011))
    with pytest.raises(SlotstackError, match=r"--port-base 65530 needs ports 65530-65540"):
        ports.plan(env, 65530)


def test_a_taken_port_is_named_with_its_cell() -> None:
    env = environment.load("local")
    base = free_port_base()
    plan = ports.plan(env, base)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", plan.cells["au"].db_b))
        taken.listen()
        with pytest.raises(SlotstackError) as raised:
            ports.check_free(plan)
    assert f"port {plan.cells['au'].db_b} (cell au: PostgreSQL node b) is already in use" in str(raised.value)
    assert "Nothing was started" in str(raised.value)


def test_monitor_config_is_accepted_by_the_monitor(tmp_path: Path) -> None:
    env = environment.load("local")
    state = StateDir.at(tmp_path / "state")
    state.create()
    plan = ports.plan(env, 41000)
    cfg = uptime_config.load(monitor_config.write(env, plan, state))
    assert cfg.cells() == ["us", "eu", "au"]
    assert {t.url for t in cfg.cell_targets("eu")} == {"http://127.0.0.1:41005/healthz",
                                                       "http://127.0.0.1:41005/readyz"}
    assert cfg.channels["email"].options["port"] == 41000
    assert cfg.channels["sms"].options["directory"] == str(state.sms_outbox)
    assert [p.phone for p in cfg.people.values()] == ["+15550199"]


def test_restore_time_is_validated() -> None:
    with pytest.raises(SlotstackError, match="'yesterday' is not a time; use ISO 8601"):
        pitr.parse_time("yesterday")
    assert pitr.parse_time("2026-11-27 10:00").isoformat() == "2026-11-27T10:00:00+00:00"
    assert pitr.parse_time("2026-11-27T10:00:00+01:00").utcoffset() is not None


def test_real_providers_replace_the_local_sinks(tmp_path: Path) -> None:
    env = environment.load("local")
    state = StateDir.at(tmp_path / "state")
    state.create()
    channels_file = tmp_path / "channels.yaml"
    channels_file.write_text(
        "channels:\n"
        "  sms: {type: twilio, account_sid: ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, auth_token_env: TWILIO_AUTH_TOKEN,"
        " from: '+15550100'}\n")
    channels = monitor_config.load_channels(channels_file)
    cfg = uptime_config.load(monitor_config.write(env, ports.plan(env, 41000), state, channels))
    assert cfg.channels["sms"].type == "twilio"
    assert cfg.channels["email"].type == "email", "email still goes to the SMTP sink"
    channels_file.write_text("channels:\n  pager: {type: webhook, url: 'https://hooks.example.com/x'}\n")
    with pytest.raises(SlotstackError, match=r"channels \['pager'\] are not used by the local stack"):
        monitor_config.load_channels(channels_file)
