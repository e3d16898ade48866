"""Real local components for the monitor's tests: HTTP(S) targets, certificates, SMTP, provider fakes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.local.lifecycle.ports import free_port as closed_port  # a port nothing listens on

# --------------------------------------------------------------------------------------------- clock


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class PinnedClock:
    """Real time that starts at a fixed date: a running service keeps its timers, the calendar is fixed.

    Tests of the real-time service use it so that who is on call (a weekly rotation) and which
    maintenance windows apply never depend on the day the suite runs.
    """

    def __init__(self, start: float) -> None:
        self.start = start
        self.origin = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self.origin)


# Dates the time-sensitive tests run at (all UTC): the rotation of ``helpers.base_config`` (alice from
# Monday 2026-03-02 09:00, then bob, weekly) in both of its weeks, both DST changes of Europe and the
# US, and a year end. Each is paired with who is on call then.
FIXED_DATES: dict[str, tuple[dt.datetime, str]] = {
    "week-a": (dt.datetime(2026, 3, 3, 14, 2, tzinfo=dt.UTC), "alice"),
    "week-b": (dt.datetime(2026, 3, 10, 14, 2, tzinfo=dt.UTC), "bob"),
    "us-dst-start": (dt.datetime(2026, 3, 8, 9, 58, tzinfo=dt.UTC), "alice"),
    "eu-dst-end": (dt.datetime(2026, 10, 25, 0, 58, tzinfo=dt.UTC), "bob"),
    "year-end": (dt.datetime(2026, 12, 31, 23, 59, 50, tzinfo=dt.UTC), "bob"),
}


@pytest.fixture
def clock() -> FakeClock:
    # Tuesday 2026-03-03 14:02:00 UTC: a weekday outside every maintenance window of the example.
    return FakeClock(dt.datetime(2026, 3, 3, 14, 2, tzinfo=dt.UTC).timestamp())


# -------------------------------------------------------------------------------------- HTTP targets


@dataclass
class Behaviour:
    """What a target server does with the next request; tests flip it while the server runs."""

    status: int = 200
    body: bytes = b'{"status": "ready", "text": "ok"}'
    delay: float = 0.0
    hang_up: bool = False
    content_type: str = "application/json"
    hits: int = 0
    fail_for: tuple[str, ...] = ()  # answer 503 to clients whose User-Agent contains one of these
    fail_next: int = 0  # answer 503 to this many requests, then ``status`` again (a lost packet or two)
    user_agents: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        behaviour: Behaviour = self.server.behaviour
        behaviour.hits += 1
        agent = self.headers.get("User-Agent", "")
        behaviour.user_agents.append(agent)
        if behaviour.hang_up:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour.delay:
            time.sleep(behaviour.delay)
        failing = any(marker in agent for marker in behaviour.fail_for)
        if behaviour.fail_next > 0:
            behaviour.fail_next -= 1
            failing = True
        self.send_response(503 if failing else behaviour.status)
        self.send_header("Content-Type", behaviour.content_type)
        self.send_header("Content-Length", str(len(behaviour.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(behaviour.body)

    do_HEAD = do_GET


class TargetServer:
    """An HTTP or HTTPS server on 127.0.0.1 with an ephemeral port."""

    def __init__(self, context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.behaviour = Behaviour()
        self.httpd.behaviour = self.behaviour  # type: ignore[attr-defined]
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if context else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/healthz", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.httpd.shutdown()
            self.httpd.server_close()

    closed = False


@pytest.fixture
def http_target() -> Iterator[Callable[[], TargetServer]]:
    servers: list[TargetServer] = []

    def make(context: ssl.SSLContext | None = None, port: int = 0) -> TargetServer:
        server = TargetServer(context, port)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


# ------------------------------------------------------------------------------------- certificates


@dataclass
class Pki:
    directory: Path
    ca_key: Any = None
    ca_cert: Any = None
    ca_file: Path = field(default_factory=Path)

    def leaf(self, name: str, not_before: dt.datetime, not_after: dt.datetime) -> ssl.SSLContext:
        """A server context presenting a leaf for localhost/127.0.0.1 plus the CA in the chain."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))
            ]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        cert_file = self.directory / f"{name}.pem"
        key_file = self.directory / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                              + self.ca_cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slotstack test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(directory, key, ca, ca_file)


# ------------------------------------------------------------------------------ provider HTTP fakes


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ProviderFake:
    """An HTTP server that records every request and answers with ``status`` and ``reply``."""

    def __init__(self) -> None:
        fake = self
        self.requests: list[Captured] = []
        self.status = 201
        self.reply: bytes = b'{"sid": "SM0001"}'
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with fake.lock:
                    fake.requests.append(Captured("POST", self.path, dict(self.headers.items()), body))
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(fake.reply)))
                self.end_headers()
                self.wfile.write(fake.reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def provider() -> Iterator[ProviderFake]:
    fake = ProviderFake()
    yield fake
    fake.close()


# -------------------------------------------------------------------------------------------- SMTP


class SmtpSink:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    controller = None
    for _ in range(5):  # the port is chosen free, but another process may grab it first
        port = closed_port()
        try:
            controller = Controller(sink, hostname="127.0.0.1", port=port)
            controller.start()
            break
        except (OSError, RuntimeError):
            controller = None
    assert controller is not None, "could not start the local SMTP server"
    yield sink, port
    controller.stop()
