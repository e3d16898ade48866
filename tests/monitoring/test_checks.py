"""Check types beyond HTTP, each against a real server on localhost: TCP connect, TLS (handshake and leaf
expiry) on any port, DNS answers and records (a small DNS server built with dnspython), and heartbeats."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import pytest
import requests
from uptime import config, heartbeat
from uptime.configparse import ConfigError
from uptime.probe import probe
from uptime.server import MonitorServer

from tests.monitoring.conftest import FakeClock, Pki, ProviderFake, closed_port
from tests.monitoring.helpers import ACK_SECRET, Harness, base_config
from tests.monitoring.test_paging import ENV, sms_log, twilio


def target(**fields: Any) -> config.Target:
    return config.parse({"targets": [{"name": "t", "cell": "eu", "timeout": "2s", **fields}]}).targets[0]


# ------------------------------------------------------------------------------------------------ TCP


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def test_tcp_connect_succeeds_on_a_listening_port_and_fails_on_a_closed_one(listener: int) -> None:
    assert probe(target(type="tcp", url=f"tcp://127.0.0.1:{listener}")).ok
    closed = probe(target(type="tcp", url=f"tcp://127.0.0.1:{closed_port()}"))
    assert (closed.ok, closed.kind) == (False, "connect")
    assert "refused" in closed.error.lower()


# ------------------------------------------------------------------------------------------------ TLS


class TlsServer:
    """A plain TLS server (not HTTP) that completes handshakes and closes, like an SMTPS or LDAPS port."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.context = context
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass


@pytest.fixture
def tls_server(pki: Pki) -> Callable[[int], TlsServer]:
    servers: list[TlsServer] = []

    def make(days: int) -> TlsServer:
        now = dt.datetime.now(dt.UTC)
        server = TlsServer(pki.leaf(f"tls{days}", now - dt.timedelta(days=1), now + dt.timedelta(days=days)))
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in servers:
        server.sock.close()


@pytest.mark.parametrize(("days", "ok", "kind", "text"), [
    (90, True, None, ""),
    (10, True, None, "(warning below 21)"),
    (3, False, "tls", "(critical below 7)"),
])
def test_tls_expiry_on_any_port(tls_server: Callable[[int], TlsServer], pki: Pki, days: int, ok: bool,
                                kind: str | None, text: str) -> None:
    server = tls_server(days)
    result = probe(target(type="tls", url=f"tls://localhost:{server.port}", ca_file=str(pki.ca_file)))
    assert (result.ok, result.kind) == (ok, kind)
    said = result.error or result.cert_warning
    assert said.endswith(text)
    assert said.startswith("certificate expires in " if text else "")
    assert result.cert_expiry is not None


def test_tls_refuses_an_untrusted_certificate(tls_server: Callable[[int], TlsServer]) -> None:
    result = probe(target(type="tls", url=f"tls://localhost:{tls_server(90).port}"))
    assert (result.ok, result.kind) == (False, "tls")
    assert "certificate" in result.error  # e.g. "self-signed certificate in certificate chain"


# ------------------------------------------------------------------------------------------------ DNS


class DnsServer:
    """Answers A queries for the names in ``zone`` and NXDOMAIN for everything else, over UDP."""

    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = zone
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            if name in self.zone:
                reply.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "A", self.zone[name]))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer({"api.eu.example.com": ["10.0.0.7", "10.0.0.8"]})
    yield server
    server.sock.close()


@pytest.mark.parametrize(("check", "ok", "error"), [
    ({"name": "api.eu.example.com", "expect": ["10.0.0.7"]}, True, ""),
    ({"name": "api.eu.example.com"}, True, ""),
    ({"name": "api.eu.example.com", "expect": ["10.0.0.9"]}, False,
     "A api.eu.example.com is 10.0.0.7, 10.0.0.8; missing 10.0.0.9"),
    ({"name": "gone.eu.example.com"}, False, "gone.eu.example.com does not exist (NXDOMAIN)"),
])
def test_dns_answer_and_record_checks(dns_server: DnsServer, check: dict[str, Any], ok: bool, error: str) -> None:
    result = probe(target(type="dns", url=f"dns://127.0.0.1:{dns_server.port}", dns=check))
    assert (result.ok, result.error) == (ok, error)


def test_dns_server_that_does_not_answer_is_a_timeout() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        result = probe(target(type="dns", url=f"dns://127.0.0.1:{silent.getsockname()[1]}", timeout="500ms",
                              dns={"name": "api.eu.example.com"}))
    finally:
        silent.close()
    assert (result.ok, result.kind) == (False, "timeout")


# ------------------------------------------------------------------------------------------ heartbeat


def test_a_late_heartbeat_pages_and_a_ping_recovers_it(tmp_path: Path, clock: FakeClock,
                                                        provider: ProviderFake) -> None:
    targets = [{"name": "eu-backup", "cell": "eu", "type": "heartbeat", "every": "1h", "grace": "10m",
                "interval": "1m"}]
    h = Harness(base_config(tmp_path, targets, {"sms": twilio(provider)}), clock, ENV)
    heartbeat.ping(h.store, "eu-backup", True, "", clock.now())
    for _ in range(71):  # up to 70 minutes after the ping: within the hour and its grace
        h.round(advance=60)
    assert provider.requests == []
    h.round(advance=60)
    h.round(advance=60)  # 71 and 72 minutes: late twice in a row (down_after 2)
    assert [body.split(" since")[0] for _, body in sms_log(provider)] == ["[slotstack] DOWN eu 1/1 checks"]
    assert "eu-backup: late" in sms_log(provider)[0][1]
    heartbeat.ping(h.store, "eu-backup", True, "", clock.now())
    h.round(advance=60)
    h.round(advance=60)
    assert sms_log(provider)[1][1].startswith("[slotstack] RECOVERED eu after")
    for _ in range(30):  # the next night's run, long after: a new incident, not a relapse of this one
        heartbeat.ping(h.store, "eu-backup", True, "", clock.now())
        h.round(advance=60)
    heartbeat.ping(h.store, "eu-backup", False, "pg_dump exited 1", clock.now())
    h.round(advance=60)
    h.round(advance=60)  # a reported failure pages without waiting for the deadline
    assert "eu-backup: job" in sms_log(provider)[2][1]
    h.close()


def test_the_ping_url_is_signed(tmp_path: Path, clock: FakeClock) -> None:
    targets = [{"name": "eu-retention", "cell": "eu", "type": "heartbeat", "every": "1d"}]
    h = Harness(base_config(tmp_path, targets, {}, []), clock)
    server = MonitorServer(h.core, h.registry, ACK_SECRET, tmp_path)
    server.ping = heartbeat.handler(h.config, h.store, ACK_SECRET, clock)
    server.start()
    try:
        address = heartbeat.url(h.config, "eu-retention", ACK_SECRET)
        assert address.startswith("https://uptime.example.com/ping/eu-retention.")
        local = f"http://127.0.0.1:{server.port}" + address.removeprefix("https://uptime.example.com")
        assert requests.get(local, timeout=5).json() == {"heartbeat": "eu-retention", "ok": True}
        assert requests.post(local + "/fail", data="disk full", timeout=5).json()["ok"] is False
        forged = requests.get(f"http://127.0.0.1:{server.port}/ping/eu-retention.AAAAAAAAAAAAAAAAAAAAAA", timeout=5)
        assert forged.status_code == 404
    finally:
        server.stop()
    assert h.store.value("SELECT message FROM heartbeats WHERE target = 'eu-retention'") == "disk full"
    h.close()


# --------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(("fields", "error"), [
    ({"type": "tcp", "url": "https://db.example.com"},
     "targets[0].url: 'https://db.example.com' is not a tcp://HOST:PORT URL (e.g. tcp://db.eu.example.com:5432)"),
    ({"type": "tls", "url": "tls://smtp.example.com"},
     "targets[0].url: 'tls://smtp.example.com' is not a tls://HOST:PORT URL (e.g. tls://smtp.eu.example.com:465)"),
    ({"type": "heartbeat", "url": "http://x/", "every": "1d"},
     "targets[0].url: a heartbeat has no URL to probe; the job calls the monitor (`uptime heartbeat-url NAME` "
     "prints the address)"),
    ({"type": "tcp", "url": "tcp://db:5432", "body_contains": "x"},
     "targets[0].body_contains: body_contains applies to HTTP checks; this target is type tcp"),
    ({"type": "dns", "url": "dns://1.1.1.1", "dns": {"name": "a.example.com", "record": "QQ"}},
     "targets[0].dns.record: 'QQ' is not a record type; allowed: A, AAAA, CNAME, MX, NS, TXT, SRV, CAA, PTR, SOA"),
    ({"type": "ping", "url": "http://x/"}, "targets[0].type: 'ping' is not a check type; allowed: http, tcp, tls, "
                                           "dns, heartbeat"),
])
def test_check_types_are_validated(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse({"targets": [{"name": "t", "cell": "eu", **fields}]})
    assert str(exc.value) == error


def test_heartbeat_url_prints_the_signed_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import yaml
    from uptime import cli

    doc = base_config(tmp_path, [{"name": "eu-retention", "cell": "eu", "type": "heartbeat", "every": "1d"}], {})
    path = tmp_path / "uptime.yaml"
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("UPTIME_ACK_SECRET", "k")
    assert cli.main(["heartbeat-url", "eu-retention", "--config", str(path)]) == 0
    mac = heartbeat.token("eu-retention", b"k")
    assert capsys.readouterr().out == f"https://uptime.example.com/ping/eu-retention.{mac}\n"
    assert cli.main(["heartbeat-url", "nope", "--config", str(path)]) == 2
