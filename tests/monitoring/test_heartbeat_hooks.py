"""The jobs that report to heartbeats: the booking retention job (`booking retention run`) and the local
stack's `slotstack backup` ping the URL in RETENTION_HEARTBEAT_URL / SLOTSTACK_BACKUP_HEARTBEAT_URL after
they succeeded; a ping that does not get through only warns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from booking.retention_job import ping_heartbeat as retention_ping
from uptime import heartbeat
from uptime.server import MonitorServer

from infra.commands.backup import ping_heartbeat as backup_ping
from tests.monitoring.conftest import FakeClock, closed_port
from tests.monitoring.helpers import ACK_SECRET, Harness, base_config


@pytest.mark.parametrize(("name", "ping"), [("eu-retention", retention_ping), ("eu-backup", backup_ping)])
def test_a_finished_job_pings_its_heartbeat(tmp_path: Path, clock: FakeClock, name: str,
                                            ping: Callable[[str | None], None]) -> None:
    h = Harness(base_config(tmp_path, [{"name": name, "cell": "eu", "type": "heartbeat", "every": "1d"}], {}, []),
                clock)
    server = MonitorServer(h.core, h.registry, ACK_SECRET, tmp_path)
    server.ping = heartbeat.handler(h.config, h.store, ACK_SECRET, clock)
    server.start()
    try:
        address = heartbeat.url(h.config, name, ACK_SECRET).replace("https://uptime.example.com",
                                                                   f"http://127.0.0.1:{server.port}")
        ping(address)
    finally:
        server.stop()
    assert h.store.value("SELECT last_ping FROM heartbeats WHERE target = ?", (name,)) == clock.now()
    h.close()


@pytest.mark.parametrize("ping", [retention_ping, backup_ping])
def test_an_unreachable_heartbeat_only_warns(ping: Callable[[str | None], None],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ping(None)  # not configured: nothing to do
    ping(f"http://127.0.0.1:{closed_port()}/ping/x.y")
    ping("ftp://example.com/ping")
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: heartbeat http://127.0.0.1:")
    assert err[0].endswith("the monitor pages if no ping arrives")
    assert err[1] == ("warning: heartbeat URL 'ftp://example.com/ping' is not http(s); print the right one with "
                      "`uptime heartbeat-url`")
