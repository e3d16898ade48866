"""Residency: one deployment is one cell; tenants of other cells get 421 with their home URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
