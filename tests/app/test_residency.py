"""Residency: one deployment is one cell; tenants of other cells get 421 with their home URL."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from booking.cells import CellDirectory, PeerUnreachable
from booking.settings import Settings, SettingsError, parse_cell_urls

from tests.app.conftest import PASSWORD, Cluster, Server, Service, as_app, start_service


@pytest.fixture(scope="module")
def cells(cluster: Cluster) -> Iterator[dict[str, Service]]:
    us_server, eu_server = Server(None), Server(None)
    urls = {"us": us_server.url, "eu": eu_server.url}
    us = start_service(cluster.fresh_database("cell_us"), cell="us", cell_urls=urls, server=us_server)
    eu = start_service(cluster.fresh_database("cell_eu"), cell="eu", cell_urls=urls, server=eu_server)
    yield {"us": us, "eu": eu}
    us.server.stop()
    eu.server.stop()


def signup_body(slug: str, residency: str) -> dict[str, object]:
    return {"tenant": {"slug": slug, "name": "Praxis", "residency": residency, "timezone": "Europe/Berlin"},
            "owner": {"email": "owner@praxis.example", "password": PASSWORD}}


def test_signup_for_another_residency_gets_421_and_creates_nothing(cells: dict[str, Service]) -> None:
    us, eu = cells["us"], cells["eu"]
    r = us.call("POST", "/v1/signup", json=signup_body("praxis-mueller", "eu"))
    assert r.status_code == 421
    assert r.json()["home_url"] == f"{eu.url}/v1/signup"
    assert "eu" in r.json()["detail"]
    with as_app(us.db) as conn:
        assert conn.execute("SELECT count(*) FROM tenant_directory").fetchone()[0] == 0
    created = eu.call("POST", r.json()["home_url"].removeprefix(eu.url), json=signup_body("praxis-mueller", "eu"))
    assert created.status_code == 201
    assert created.json()["tenant"]["home_cell"] == "eu"


def test_public_requests_for_a_tenant_of_another_cell_get_421(cells: dict[str, Service]) -> None:
    us, eu = cells["us"], cells["eu"]
    assert eu.call("POST", "/v1/signup", json=signup_body("zahnarzt-koch", "eu")).status_code == 201
    r = us.call("GET", "/v1/public/zahnarzt-koch/services")
    assert r.status_code == 421
    assert r.json()["home_url"] == f"{eu.url}/v1/public/zahnarzt-koch/services"
    page = us.call("GET", "/zahnarzt-koch", params={"tz": "UTC"})
    assert page.status_code == 421
    assert page.json()["home_url"] == f"{eu.url}/zahnarzt-koch?tz=UTC"
    assert eu.call("GET", "/v1/public/zahnarzt-koch/services").status_code == 200


def test_a_slug_is_unique_across_cells(cells: dict[str, Service]) -> None:
    us, eu = cells["us"], cells["eu"]
    assert eu.call("POST", "/v1/signup", json=signup_body("one-name", "eu")).status_code == 201
    r = us.call("POST", "/v1/signup", json=signup_body("one-name", "us"))
    assert r.status_code == 409
    assert "taken" in r.json()["detail"]


def test_unknown_slug_is_404_and_unknown_residency_is_422(cells: dict[str, Service]) -> None:
    us = cells["us"]
    assert us.call("GET", "/v1/public/nobody-here/services").status_code == 404
    r = us.call("POST", "/v1/signup", json=signup_body("london-dental", "uk"))
    assert r.status_code == 422
    assert "tenant.residency='uk'" in r.json()["detail"]
    assert "['eu', 'us']" in r.json()["detail"]


def test_a_moved_tenant_leaves_a_forwarding_entry(cells: dict[str, Service]) -> None:
    us, eu = cells["us"], cells["eu"]
    with as_app(us.db) as conn:  # what the tenant move (export/import/erase) leaves at the source
        conn.execute("INSERT INTO tenant_directory (slug, tenant_id, home_cell) VALUES "
                     "('moved-away', gen_random_uuid(), 'eu')")
    r = us.call("GET", "/v1/public/moved-away/services")
    assert r.status_code == 421
    assert r.json()["home_url"].startswith(eu.url)


def test_directory_answers_only_for_its_own_tenants(cells: dict[str, Service]) -> None:
    us, eu = cells["us"], cells["eu"]
    eu.call("POST", "/v1/signup", json=signup_body("dir-check", "eu"))
    assert eu.call("GET", "/v1/directory/dir-check").json() == {"slug": "dir-check", "cell": "eu"}
    assert us.call("GET", "/v1/directory/dir-check").status_code == 404  # never forwards


@pytest.mark.parametrize("raw", ['{"us": "http://a:1", "eu": "http://b:2/"}', "us=http://a:1, eu=http://b:2/"])
def test_cell_urls_accepts_json_and_pairs(raw: str) -> None:
    assert parse_cell_urls(raw) == {"us": "http://a:1", "eu": "http://b:2"}


@pytest.mark.parametrize(("raw", "fragment"), [
    ("us", "must look like 'us=https://"),
    ("us=ftp://x", "must be an http(s) URL"),
    ('{"us": 1}', "must map cell names to URL strings"),
    ("US=http://x", "cell name 'US'"),
])
def test_bad_cell_urls_name_the_problem(raw: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_cell_urls(raw)


def test_settings_refuse_a_cell_missing_from_cell_urls_and_short_secrets() -> None:
    env = {"DATABASE_URL": "postgresql://app@/db", "SECRET_KEY": "k" * 40, "CELL": "au",
           "CELL_URLS": "us=http://a,eu=http://b"}
    with pytest.raises(SettingsError, match="no URL for this cell CELL='au'"):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="SECRET_KEY must be at least 32"):
        Settings.from_env({**env, "CELL": "us", "SECRET_KEY": "short"})
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        Settings.from_env({})


class FakePeer:
    """Cell eu's directory on a fixed 127.0.0.1 port: down (connection refused) or answering with `status`.

    A real HTTP server rather than a fake lookup, so the production http_peer_lookup is what gets tested.
    """

    def __init__(self) -> None:
        with socket.socket() as sock:  # a free port, closed again: connecting to it is refused until up()
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.status = 404
        self.body = ""
        self.asked: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None

    def up(self, status: int, body: str = "") -> None:
        """Answer every directory request with `status` (200 without a body claims the slug for eu)."""
        self.status, self.body = status, body
        if self._httpd is not None:
            return
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the name http.server dispatches GET to
                peer.asked.append(self.path)
                slug = self.path.rsplit("/", 1)[-1]
                body = peer.body or json.dumps({"slug": slug, "cell": "eu"} if peer.status == 200 else
                                               {"detail": f"status {peer.status}"})
                self.send_response(peer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_args: object) -> None:  # keep pytest output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # reuses the port after down()
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: lookups now get 'connection refused'."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@pytest.fixture(scope="module")
def eu_server() -> Iterator[FakePeer]:
    peer = FakePeer()
    yield peer
    peer.down()


@pytest.fixture(scope="module")
def us_alone(cluster: Cluster, eu_server: FakePeer) -> Iterator[Service]:
    """Cell us whose peer eu is the FakePeer."""
    us = start_service(cluster.fresh_database("cell_us_alone"), cell="us", cell_urls={"eu": eu_server.url})
    yield us
    us.server.stop()


@pytest.fixture
def eu_peer(eu_server: FakePeer) -> Iterator[FakePeer]:
    """The FakePeer, down and with no requests recorded at the start of each test."""
    eu_server.down()
    eu_server.asked.clear()
    yield eu_server
    eu_server.down()


def directory_rows(us: Service, slug: str) -> int:
    with as_app(us.db) as conn:
        return int(conn.execute("SELECT count(*) FROM tenant_directory WHERE slug = %s", (slug,)).fetchone()[0])


def assert_peer_unreachable_503(r: requests.Response, slug: str) -> None:
    assert r.status_code == 503, r.text
    assert "cell 'eu' could not be asked" in r.json()["detail"]
    assert "cannot be confirmed unique" in r.json()["detail"]
    assert f"tenant.slug={slug!r}" in r.json()["detail"]
    assert r.headers["Retry-After"] == "30"


def test_signup_while_a_peer_cell_is_down_is_503_and_creates_nothing(us_alone: Service, eu_peer: FakePeer) -> None:
    r = us_alone.call("POST", "/v1/signup", json=signup_body("peer-down", "us"))
    assert_peer_unreachable_503(r, "peer-down")
    assert "connection refused" in r.json()["detail"]
    assert directory_rows(us_alone, "peer-down") == 0
    eu_peer.up(404)
    assert us_alone.call("POST", "/v1/signup", json=signup_body("peer-down", "us")).status_code == 201
    assert directory_rows(us_alone, "peer-down") == 1


@pytest.mark.parametrize(("status", "body"), [(500, ""), (503, ""), (200, "<html>proxy</html>"),
                                              (200, '{"slug": "x"}'),
                                              (200, '{"slug": "x", "cell": "au"}')])  # CELL_URLS mixed up
def test_signup_is_503_when_a_peer_gives_no_usable_answer(us_alone: Service, eu_peer: FakePeer,
                                                         status: int, body: str) -> None:
    eu_peer.up(status, body)
    slug = f"peer-bad-{status}-{len(body)}"
    assert_peer_unreachable_503(us_alone.call("POST", "/v1/signup", json=signup_body(slug, "us")), slug)
    assert eu_peer.asked == [f"/v1/directory/{slug}"]
    assert directory_rows(us_alone, slug) == 0


def test_signup_succeeds_when_the_peer_answers_404(us_alone: Service, eu_peer: FakePeer) -> None:
    eu_peer.up(404)
    r = us_alone.call("POST", "/v1/signup", json=signup_body("peer-says-no", "us"))
    assert r.status_code == 201, r.text
    assert eu_peer.asked == ["/v1/directory/peer-says-no"]


def test_public_requests_for_unknown_slugs_stay_404_while_a_peer_is_down(us_alone: Service,
                                                                        eu_peer: FakePeer) -> None:
    assert us_alone.call("GET", "/v1/public/nobody-anywhere/services").status_code == 404
    eu_peer.up(500)
    assert us_alone.call("GET", "/v1/public/nobody-anywhere/services").status_code == 404


def test_unreachable_answers_are_not_cached(us_alone: Service, eu_peer: FakePeer) -> None:
    assert us_alone.call("GET", "/v1/public/back-again/services").status_code == 404
    assert_peer_unreachable_503(us_alone.call("POST", "/v1/signup", json=signup_body("back-again", "us")),
                                "back-again")
    eu_peer.up(200)  # back, and it homes the slug: both paths must ask it again rather than reuse the outage
    r = us_alone.call("GET", "/v1/public/back-again/services")
    assert r.status_code == 421
    assert r.json()["home_cell"] == "eu"
    taken = us_alone.call("POST", "/v1/signup", json=signup_body("back-again", "us"))
    assert taken.status_code == 409
    assert eu_peer.asked == ["/v1/directory/back-again"] * 2


class Lookups:
    """A peer lookup whose answer the test sets; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail: Exception | None = None

    def __call__(self, _base_url: str, _slug: str) -> str | None:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return None


@pytest.mark.parametrize("failure", [PeerUnreachable("http://eu", "HTTP 502"), RuntimeError("boom")])
def test_directory_raises_only_when_strict_and_caches_only_real_answers(failure: Exception) -> None:
    lookups = Lookups()
    directory = CellDirectory("us", {"us": "http://us", "eu": "http://eu"}, lookups, clock=lambda: 0.0)
    lookups.fail = failure
    with pytest.raises(PeerUnreachable) as raised:
        directory.remote_home("cache-me", strict=True)
    assert raised.value.cell == "eu"
    assert directory.remote_home("cache-me") is None  # routing: a down peer is 'not there'
    assert lookups.calls == 2
    lookups.fail = None
    assert directory.remote_home("cache-me", strict=True) is None
    assert directory.remote_home("cache-me", strict=True) is None  # a real answer is cached for the TTL
    assert lookups.calls == 3
