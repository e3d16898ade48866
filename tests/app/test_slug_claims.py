"""A slug is unique across cells even when two cells sign it up at once: signed claims between cells.

Two real services (us, eu) on their own databases, sharing a PEER_KEY, talk over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from booking.cells import claim_signature

from tests.app.conftest import PASSWORD, Cluster, Server, Service, as_app, start_service

PEER_KEY = "environment-peer-key-0123456789abcdef"


@pytest.fixture(scope="module")
def pair(cluster: Cluster) -> Iterator[dict[str, Service]]:
    us_server, eu_server = Server(None), Server(None)
    urls = {"us": us_server.url, "eu": eu_server.url}
    us = start_service(cluster.fresh_database("claims_us"), cell="us", cell_urls=urls, server=us_server,
                       peer_key=PEER_KEY)
    eu = start_service(cluster.fresh_database("claims_eu"), cell="eu", cell_urls=urls, server=eu_server,
                       peer_key=PEER_KEY)
    yield {"us": us, "eu": eu}
    us.server.stop()
    eu.server.stop()


def signup(svc: Service, slug: str, residency: str) -> requests.Response:
    return svc.call("POST", "/v1/signup", json={
        "tenant": {"slug": slug, "name": "Race", "residency": residency, "timezone": "UTC"},
        "owner": {"email": f"owner@{residency}.example", "password": PASSWORD}})


def homes(pair: dict[str, Service], slug: str) -> list[str]:
    """The cells whose directory says they home `slug`."""
    found = []
    for name, svc in pair.items():
        with as_app(svc.db) as conn:
            row = conn.execute("SELECT home_cell FROM tenant_directory WHERE slug = %s", (slug,)).fetchone()
        if row is not None and row[0] == name:
            found.append(name)
    return found


def claim(svc: Service, slug: str, cell: str, *, key: str = PEER_KEY, at: int | None = None,
          method: str = "POST", receiver: str = "us") -> requests.Response:
    """A claim (or with method DELETE, its withdrawal) from `cell`, signed for `receiver`."""
    when = int(time.time()) if at is None else at
    return svc.call(method, f"/v1/directory/{slug}/claims", headers={
        "X-Slotstack-Cell": cell, "X-Slotstack-Time": str(when),
        "X-Slotstack-Signature": claim_signature(key, method, cell, receiver, slug, when)})


def test_two_cells_signing_up_one_slug_at_the_same_moment_never_both_get_it(pair: dict[str, Service]) -> None:
    for i in range(12):
        slug = f"race-{i}"
        barrier = threading.Barrier(2)
        answers: dict[str, int] = {}

        def go(cell: str, slug: str = slug, barrier: threading.Barrier = barrier,
               answers: dict[str, int] = answers) -> None:
            barrier.wait()
            answers[cell] = signup(pair[cell], slug, cell).status_code

        threads = [threading.Thread(target=go, args=(cell,)) for cell in ("us", "eu")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers.values()) in ([201, 409], [409, 409]), f"{slug}: {answers}"
        won = [cell for cell, status in answers.items() if status == 201]
        assert homes(pair, slug) == won, f"{slug}: answers {answers} but homed in {homes(pair, slug)}"
        if not won:  # a tie refuses both; the claims were released, so a retry wins at once
            assert signup(pair["us"], slug, "us").status_code == 201
            assert homes(pair, slug) == ["us"]


def test_a_live_claim_of_another_cell_blocks_signup_until_it_is_released_or_expires(pair: dict[str, Service]) -> None:
    us = pair["us"]
    granted = claim(us, "claimed-by-eu", "eu")
    assert granted.status_code == 201, granted.text
    assert granted.json() == {"slug": "claimed-by-eu", "cell": "eu", "expires_in": 60}
    assert signup(us, "claimed-by-eu", "us").status_code == 409
    assert claim(us, "claimed-by-eu", "eu").status_code == 201  # the same cell may renew its own claim
    assert claim(us, "claimed-by-eu", "eu", method="DELETE").status_code == 204  # withdrawn by its cell
    assert signup(us, "claimed-by-eu", "us").status_code == 201
    assert claim(us, "claimed-by-eu", "eu").status_code == 409  # and now us homes it
    assert claim(us, "expiring", "eu").status_code == 201
    with as_app(us.db) as conn:
        conn.execute("UPDATE slug_claims SET expires_at = now() - interval '1 second' WHERE slug = 'expiring'")
    assert signup(us, "expiring", "us").status_code == 201  # an expired claim blocks nothing


def test_claims_must_be_signed_recent_and_from_another_cell(pair: dict[str, Service]) -> None:
    us = pair["us"]
    wrong = claim(us, "forged-slug", "eu", key="not-the-environment-peer-key-000000")
    assert wrong.status_code == 401
    assert "PEER_KEY differ" in wrong.json()["detail"]
    stale = claim(us, "forged-slug", "eu", at=int(time.time()) - 600)
    assert stale.status_code == 401
    assert "off this cell's clock" in stale.json()["detail"]
    assert claim(us, "forged-slug", "us").status_code == 403  # not from itself
    assert claim(us, "forged-slug", "mars").status_code == 403
    replayed = claim(us, "forged-slug", "eu", receiver="au")  # signed for another cell
    assert replayed.status_code == 401
    assert claim(us, "Not A Slug", "eu").status_code == 422
    with as_app(us.db) as conn:
        assert conn.execute("SELECT count(*) FROM slug_claims WHERE slug = 'forged-slug'").fetchone() == (0,)


def test_a_cell_with_another_peer_key_makes_signup_fail_closed(cluster: Cluster) -> None:
    us_server, eu_server = Server(None), Server(None)
    urls = {"us": us_server.url, "eu": eu_server.url}
    us = start_service(cluster.fresh_database("claims_key_us"), cell="us", cell_urls=urls, server=us_server,
                       peer_key=PEER_KEY)
    eu = start_service(cluster.fresh_database("claims_key_eu"), cell="eu", cell_urls=urls, server=eu_server,
                       peer_key="a-different-key-for-this-cell-000000")
    try:
        r = signup(us, "mismatch", "us")
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "30"
        assert "'eu'" in r.json()["detail"]
        assert "HTTP 401" in r.json()["detail"]  # the peer's reason goes to the log, not to the public
        with as_app(us.db) as conn:  # nothing created, and our own claim released
            assert conn.execute("SELECT count(*) FROM tenant_directory").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM slug_claims").fetchone() == (0,)
    finally:
        us.server.stop()
        eu.server.stop()


def test_a_signup_that_outlived_its_reservation_creates_nothing(pair: dict[str, Service],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The reservation must still be live when the tenant is written, else another cell may have taken over."""
    import booking.tenants

    us, eu = pair["us"], pair["eu"]
    monkeypatch.setattr(booking.tenants, "CLAIM_TTL_S", 3)  # shorter than COMMIT_MARGIN_S (5): always too late
    r = signup(us, "too-slow", "us")
    assert r.status_code == 503
    assert "reservation" in r.json()["detail"]
    assert homes(pair, "too-slow") == []
    with as_app(eu.db) as conn:  # the claim granted in eu was withdrawn
        assert conn.execute("SELECT count(*) FROM slug_claims WHERE slug = 'too-slow'").fetchone() == (0,)
    monkeypatch.undo()
    assert signup(eu, "too-slow", "eu").status_code == 201


def test_a_peer_without_claims_is_asked_where_the_slug_lives_instead(cluster: Cluster) -> None:
    """During a rollout a cell may not take claims yet (404): signup falls back to the lookup, as before."""
    us_server, eu_server = Server(None), Server(None)
    urls = {"us": us_server.url, "eu": eu_server.url}
    us = start_service(cluster.fresh_database("claims_old_us"), cell="us", cell_urls=urls, server=us_server,
                       peer_key=PEER_KEY)
    eu = start_service(cluster.fresh_database("claims_old_eu"), cell="eu", cell_urls=urls, server=eu_server)
    try:
        assert signup(eu, "old-and-new", "eu").status_code == 201
        assert signup(us, "old-and-new", "us").status_code == 409  # eu homes it: the lookup said so
        assert signup(us, "only-new", "us").status_code == 201
    finally:
        us.server.stop()
        eu.server.stop()
