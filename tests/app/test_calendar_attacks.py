"""Issue 16, findings 1-3: a tenant's calendar feed must not reach inside the cell, stall it, or exhaust it.

Every fetch that might follow a crafted URL to a real address runs inside a network namespace of its own
(tests/app/netns.py); the API-level attacks only ever point at 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from booking.calendars.addresses import public_only
from booking.calendars.expand import Budget, CalendarError, parse_busy
from booking.calendars.sandbox import MAX_CHILDREN, OverBudget, SandboxBusy, run_bounded

from tests.app.conftest import Business, Service, make_business, start_service
from tests.app.netns import run_isolated

# The issue's 183-byte calendar: one event that repeats every second, 300 000 times.
SECONDLY = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//attacker//EN\r
BEGIN:VEVENT\r
UID:every-second\r
DTSTART:20260105T090000Z\r
DTEND:20260105T090001Z\r
RRULE:FREQ=SECONDLY;COUNT=300000\r
END:VEVENT\r
END:VCALENDAR\r
"""
WINDOW = (datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC) + timedelta(days=400))
SECRET = b"internal-only: db password hunter2\r\nmore lines\r\n"


class Inside(BaseHTTPRequestHandler):
    """Something on the service's own loopback that no tenant should ever read; counts its visitors."""

    hits: ClassVar[list[str]] = []
    hold: ClassVar[threading.Event] = threading.Event()
    trickle: ClassVar[bool] = False

    def do_GET(self) -> None:
        Inside.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        if not Inside.trickle:
            self.wfile.write(SECRET)
            return
        # a feed that sends one byte at a time: holds the connection until the client gives up (bounded)
        Inside.hold.wait(20)
        for _ in range(200):
            try:
                self.wfile.write(b"B")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)

    def log_message(self, *args: Any) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the fetcher hangs up on the trickling feed on purpose


@pytest.fixture(scope="module")
def inside() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Inside)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def cloud(db: Any) -> Iterator[Service]:
    """The service as deployed in the cloud: calendar feeds from public addresses only."""
    s = start_service(db)
    yield s
    s.server.stop()


@pytest.fixture(scope="module")
def onprem(db: Any) -> Iterator[Service]:
    """A deployment that allows on-premises feeds (so the local trickling feed is reachable), 3 s per fetch."""
    s = start_service(db, ics_allow_private=True, ics_timeout_s=3.0)
    yield s
    s.server.stop()


def test_a_url_two_parsers_read_differently_is_refused_and_nothing_inside_is_contacted(
        cloud: Service, inside: str) -> None:
    biz = make_business(cloud, "parser-gap")
    Inside.hits.clear()
    # urlsplit sees host 1.1.1.1 (global); an HTTP client that stops the authority at "\" connects to 127.0.0.1
    r = cloud.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token,
                   json={"url": f"http://{inside}\\@1.1.1.1/calendar.ics"})
    assert r.status_code == 422, r.text
    assert "backslash" in r.json()["detail"]
    assert "hunter2" not in r.text
    assert "internal-only" not in r.text
    assert Inside.hits == [], "the service contacted its own loopback for a tenant's feed URL"


def test_dns_rebinding_is_useless_the_name_is_resolved_once_and_the_checked_address_is_contacted() -> None:
    seen = run_isolated("""
        import json, socket, threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from booking.calendars.fetch import FeedFetcher

        got = []
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                got.append({"local": self.connection.getsockname()[0], "host": self.headers["Host"]})
                body = b"BEGIN:VCALENDAR\\r\\nEND:VCALENDAR\\r\\n"
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)
            def log_message(self, *a): pass
        httpd = HTTPServer(("0.0.0.0", 0), H)
        port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

        calls = []
        real = socket.getaddrinfo
        def rebinding(host, *args, **kw):  # public for the check, loopback for whoever asks again
            if host == "feed.example":
                calls.append(host)
                ip = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
            return real(host, *args, **kw)
        socket.getaddrinfo = rebinding
        body = FeedFetcher(deadline_s=5)(f"http://feed.example:{port}/cal.ics")
        print(json.dumps({"got": got, "lookups": len(calls), "body": body.decode()}))
    """, addresses=("93.184.216.34",))
    assert seen["lookups"] == 1
    assert seen["got"] == [{"local": "93.184.216.34", "host": f"feed.example:{seen['got'][0]['host'].split(':')[1]}"}]


@pytest.mark.parametrize("address", ["168.63.129.16", "100.64.0.1", "100.127.255.254", "169.254.169.254",
                                     "127.0.0.1", "10.0.1.4", "::ffff:127.0.0.1", "64:ff9b::a00:104", "fd00:ec2::254"])
def test_platform_shared_and_private_addresses_are_refused_before_any_connection(address: str) -> None:
    assert public_only(ipaddress.ip_address(address)) is not None
    out = run_isolated(f"""
        import json, socket
        from booking.calendars.fetch import FeedError, FeedFetcher
        connects = []
        real = socket.create_connection
        socket.create_connection = lambda *a, **k: connects.append(a) or real(*a, **k)
        try:
            FeedFetcher(deadline_s=2)("http://{address if ':' not in address else '[' + address + ']'}/feed.ics")
            print(json.dumps({{"error": None, "connects": len(connects)}}))
        except FeedError as exc:
            print(json.dumps({{"error": str(exc), "connects": len(connects)}}))
    """)
    assert out["connects"] == 0
    assert "which is refused" in out["error"]


def test_a_redirect_is_not_followed_and_its_target_is_not_contacted() -> None:
    out = run_isolated("""
        import json, threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from booking.calendars.fetch import FeedError, FeedFetcher
        from booking.calendars.addresses import private_networks_too
        hits = []
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(302); self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *a): pass
        httpd = HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            FeedFetcher(deadline_s=2, policy=private_networks_too)(f"http://127.0.0.1:{httpd.server_address[1]}/a")
            print(json.dumps({"error": None, "hits": hits}))
        except FeedError as exc:
            print(json.dumps({"error": str(exc), "hits": hits}))
    """)
    assert out["hits"] == ["/a"]
    assert "redirect" in out["error"]
    assert "not followed" in out["error"]


def test_a_feed_that_trickles_never_holds_a_request_and_is_cut_at_the_total_deadline(
        onprem: Service, inside: str) -> None:
    biz = make_business(onprem, "slow-feeds")
    Inside.trickle, Inside.hits[:] = True, []
    Inside.hold.clear()
    try:
        first = onprem.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token,
                            json={"url": f"http://{inside}/a.ics"})
        # the feed has not sent a byte yet (it waits for `hold`): the request came back without waiting for it
        assert first.status_code == 202, first.text
        assert not Inside.hold.is_set()
        onprem.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token, json={"url": f"http://{inside}/b.ics"})
        third = onprem.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token,
                            json={"url": f"http://{inside}/c.ics"})
        assert third.status_code == 429, "a third feed of the same tenant must wait for the first two"
        assert third.headers["Retry-After"] == "10"
        assert onprem.call("GET", "/healthz").status_code == 200
        Inside.hold.set()
        deadline = time.monotonic() + 30
        feeds: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            feeds = onprem.call("GET", f"/v1/staff/{biz.staff_id}/calendar", biz.token).json()["feeds"]
            if feeds and all(f["status"] != "pending" for f in feeds):
                break
            time.sleep(0.05)
        assert [f["status"] for f in feeds] == ["failed", "failed"]
        assert all("longer than 3 s in total" in f["last_error"] for f in feeds), [f["last_error"] for f in feeds]
    finally:
        Inside.trickle = False
        Inside.hold.set()


def test_the_issue_s_183_byte_calendar_is_refused_before_anything_is_expanded() -> None:
    reads: list[float] = []

    def clock() -> float:
        reads.append(0.0)
        return 0.0

    tracemalloc.start()
    with pytest.raises(CalendarError, match="'every-second' repeats too often") as refused:
        parse_busy(SECONDLY, ZoneInfo("Europe/Berlin"), WINDOW, Budget(clock=clock))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "at most 50000 recurrence steps" in str(refused.value)
    assert len(reads) == 1, "refused from the estimate alone: no occurrence was expanded"
    assert peak < 5_000_000, f"refusing took {peak} bytes"


def test_expansion_stops_at_the_time_budget_naming_the_event() -> None:
    daily = SECONDLY.replace(b"every-second", b"standup").replace(b"FREQ=SECONDLY;COUNT=300000", b"FREQ=DAILY")
    ticks = iter(range(10_000))
    budget = Budget(seconds=5, clock=lambda: float(next(ticks)))  # one "second" per occurrence
    with pytest.raises(CalendarError, match=r"longer than 5 s \(at event 'standup'\)"):
        parse_busy(daily, ZoneInfo("Europe/Berlin"), WINDOW, budget)
    assert len(parse_busy(daily, ZoneInfo("Europe/Berlin"), WINDOW)) == 399  # every day from 5 Jan


def test_the_api_answers_the_secondly_calendar_with_422_naming_the_event(cloud: Service) -> None:
    biz: Business = make_business(cloud, "secondly")
    r = cloud.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token, data=SECONDLY,
                   headers={"Content-Type": "text/calendar"})
    assert r.status_code == 422
    assert "'every-second' repeats too often" in r.json()["detail"]


def test_https_goes_to_the_checked_address_with_the_original_name_in_sni_host_and_certificate(
        tmp_path: Any) -> None:
    out = run_isolated(f"""
        import datetime, json, ssl, threading, ipaddress
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        from booking.calendars.fetch import FeedError, FeedFetcher

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calendar.example")])
        now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now - datetime.timedelta(days=3650))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("calendar.example")]), critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        open("{tmp_path}/cert.pem", "wb").write(pem)
        open("{tmp_path}/key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

        seen = {{"sni": []}}
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                seen["host"] = self.headers["Host"]
                seen["local"] = self.connection.getsockname()[0]
                body = b"BEGIN:VCALENDAR\\r\\nEND:VCALENDAR\\r\\n"
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)
            def log_message(self, *a): pass
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain("{tmp_path}/cert.pem", "{tmp_path}/key.pem")
        server_ctx.sni_callback = lambda sock, sni, ctx: seen["sni"].append(sni)
        httpd = HTTPServer(("0.0.0.0", 0), H)
        httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
        port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

        trust = ssl.create_default_context(cadata=pem.decode())
        public = lambda host, port: [ipaddress.ip_address("93.184.216.34")]
        body = FeedFetcher(deadline_s=5, resolve=public, tls=trust)(f"https://calendar.example:{{port}}/c.ics")
        try:  # the same server under another name: the certificate does not match, so nothing is read
            FeedFetcher(deadline_s=5, resolve=public, tls=trust)(f"https://other.example:{{port}}/c.ics")
            mismatch = None
        except FeedError as exc:
            mismatch = str(exc)
        print(json.dumps({{"seen": seen, "port": port, "body": body.decode(), "mismatch": mismatch}}))
    """, addresses=("93.184.216.34",))
    seen = out["seen"]
    assert seen["sni"][0] == "calendar.example"
    assert seen["host"] == f"calendar.example:{out['port']}"
    assert seen["local"] == "93.184.216.34"
    assert out["body"].startswith("BEGIN:VCALENDAR")
    assert "certificate is not valid for the host" in out["mismatch"]


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def _hoard(n: int) -> int:
    return len(bytearray(n))


def test_work_no_check_can_interrupt_is_killed_at_its_deadline_and_capped_in_memory() -> None:
    assert run_bounded(_sleep, 0.0, seconds=30, memory_bytes=64 * 2**20, what="a nap") == "done"
    with pytest.raises(OverBudget, match=r"a long nap took longer than 0\.2 s"):
        run_bounded(_sleep, 60.0, seconds=0.2, memory_bytes=64 * 2**20, what="a long nap")
    with pytest.raises(OverBudget, match="hoarding needs more than 64 MB"):
        run_bounded(_hoard, 2**30, seconds=30, memory_bytes=64 * 2**20, what="hoarding")
    with pytest.raises(CalendarError, match="'every-second' repeats too often"):  # refusals come back as they are
        run_bounded(parse_busy, SECONDLY, ZoneInfo("UTC"), WINDOW, seconds=30, memory_bytes=256 * 2**20,
                    what="expanding")


def test_at_most_two_children_run_at_once_so_concurrent_calendars_cannot_take_the_vm_s_memory() -> None:
    started = threading.Barrier(MAX_CHILDREN + 1, timeout=30)
    results: list[Any] = []

    def occupy() -> None:
        started.wait()
        results.append(run_bounded(_sleep, 1.5, seconds=30, memory_bytes=64 * 2**20, what="a nap"))

    threads = [threading.Thread(target=occupy) for _ in range(MAX_CHILDREN)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.3)  # both children are running (each sleeps 1.5 s)
    with pytest.raises(SandboxBusy, match="2 calendars are being expanded"):
        run_bounded(_sleep, 0.0, seconds=30, memory_bytes=64 * 2**20, what="a third", wait_s=0.1)
    for t in threads:
        t.join(30)
    assert results == ["done", "done"]


def test_a_name_server_that_answers_slowly_is_inside_the_same_total_deadline() -> None:
    from booking.calendars.fetch import FeedError, FeedFetcher

    answered = threading.Event()

    def slow(host: str, port: int) -> list[Any]:
        answered.wait(10)  # a tenant's own name server, stalling on purpose (released at the end of the test)
        return [ipaddress.ip_address("93.184.216.34")]

    try:
        began = time.monotonic()
        with pytest.raises(FeedError, match=r"did not resolve within 0\.3 s"):
            FeedFetcher(deadline_s=0.3, resolve=slow)("https://slow-dns.example/feed.ics")
        assert time.monotonic() - began < 5, "the fetcher stopped waiting at its deadline, not the resolver's"
    finally:
        answered.set()
