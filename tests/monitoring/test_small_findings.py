"""The smaller findings of issue 15 (finding 6): the recovery email lists every check that failed, the public
status page shows no raw exception text, a busy port is an error message, and ``test-notify`` refuses a
phone number that is not E.164. (The ack notice and ESCALATED pages are in test_incident_news.py, the
failing check's name in the SMS in test_paging.py and test_notifiers.py.)"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from uptime import cli, statuspage

from tests.monitoring.conftest import FakeClock, ProviderFake, SmtpSink, TargetServer, closed_port
from tests.monitoring.helpers import Harness, base_config
from tests.monitoring.test_paging import ENV, cell_targets


def test_the_recovery_email_lists_every_check_that_failed(
    tmp_path: Path, clock: FakeClock, http_target: Callable[[], TargetServer], provider: ProviderFake,
    smtp: tuple[SmtpSink, int],
) -> None:
    sink, port = smtp
    servers = [http_target(), http_target()]
    mail = {"type": "email", "host": "127.0.0.1", "port": port, "starttls": False, "from": "uptime@example.com"}
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["mail"]}]
    h = Harness(base_config(tmp_path, cell_targets(servers, "eu"), {"mail": mail}, steps), clock, ENV)
    for server in servers:
        server.behaviour.status = 503
    h.round()
    h.round()  # both down
    servers[0].behaviour.status = 200
    h.round()
    h.round()  # eu-0 back first
    servers[1].behaviour.status = 200
    h.round()
    h.round()  # eu-1 back: recovered
    subjects = [email.message_from_bytes(raw, policy=email.policy.default)["Subject"] for *_, raw in sink.messages]
    assert subjects[-1] == "[slotstack] RECOVERED eu after 2m 30s"
    recovery = email.message_from_bytes(sink.messages[-1][2], policy=email.policy.default)
    text = recovery.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Checks that failed: 2 of 2" in text
    assert f"- eu-0 ({servers[0].url()})" in text
    assert f"- eu-1 ({servers[1].url()})" in text
    h.close()


def test_the_public_status_page_shows_no_raw_exception_text(tmp_path: Path, clock: FakeClock) -> None:
    targets = [{"name": "eu-a", "cell": "eu", "url": f"http://127.0.0.1:{closed_port()}/healthz", "timeout": "2s"}]
    h = Harness(base_config(tmp_path, targets, {}, []), clock)
    h.round()
    data = statuspage.snapshot(h.core, clock.now())
    assert data["cells"][0]["targets"][0]["error"] == "connection failed"
    page = statuspage.render_html(data)
    for raw in ("Errno", "Connection", "refused"):
        assert raw not in page
    assert '<meta http-equiv="refresh" content="10">' in page  # follows the 10 s rewrite, no script
    h.close()


def test_a_busy_port_is_an_error_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "uptime.yaml"
    path.write_text(yaml.safe_dump(base_config(tmp_path, [{"name": "a", "cell": "eu", "url": "http://127.0.0.1:9/"}],
                                               {}, [])))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["run", "--config", str(path), "--listen", f"127.0.0.1:{port}"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use; another process")
    assert "Traceback" not in err


@pytest.mark.parametrize("number", ["12345", "+1", "15550100", "+1555-0100"])
def test_test_notify_refuses_a_phone_number_that_is_not_e164(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], number: str,
) -> None:
    path = tmp_path / "uptime.yaml"
    sms = {"sms": {"type": "outbox", "directory": str(tmp_path / "outbox")}}
    path.write_text(yaml.safe_dump(base_config(tmp_path, [{"name": "a", "cell": "eu", "url": "http://127.0.0.1:9/"}],
                                               sms)))
    assert cli.main(["test-notify", "sms", "--config", str(path), "--to", number]) == 2
    assert f"--to {number!r} is not an E.164 phone number" in capsys.readouterr().err
    assert not (tmp_path / "outbox").exists()
