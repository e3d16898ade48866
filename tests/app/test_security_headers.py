"""Every response carries the security headers: pages, API answers, errors and the docs."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.app.conftest import Business, Service, make_business


@pytest.fixture(scope="module")
def biz(service: Service) -> Business:
    return make_business(service, "headers-shop")


def csp_directives(value: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in value.split(";") if part.strip()}


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/healthz", 200), ("GET", "/openapi.json", 200), ("GET", "/v1/tenant", 401),
    ("GET", "/no-such-business-here", 404), ("POST", "/v1/signup", 422), ("GET", "/metrics", 200),
])
def test_every_response_has_the_security_headers(service: Service, biz: Business, method: str, path: str,
                                                  status: int) -> None:
    r = service.call(method, path, json={} if method == "POST" else None)
    assert r.status_code == status, r.text
    assert r.headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    csp = csp_directives(r.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'none'"
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]


def test_booking_page_style_is_allowed_by_hash_not_by_unsafe_inline(service: Service, biz: Business) -> None:
    r = service.call("GET", f"/{biz.slug}")
    assert r.status_code == 200
    style = re.search(r"<style>(.*?)</style>", r.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    csp = csp_directives(r.headers["Content-Security-Policy"])
    assert csp["style-src"] == f"'sha256-{digest}'", "the page's inline style would be blocked by the browser"
    assert csp["form-action"] == "'self'"


def test_swagger_ui_gets_its_cdn_but_still_cannot_be_framed(service: Service) -> None:
    r = service.call("GET", "/docs")
    assert r.status_code == 200
    csp = csp_directives(r.headers["Content-Security-Policy"])
    assert "https://cdn.jsdelivr.net" in csp["script-src"]
    assert csp["frame-ancestors"] == "'none'"
    assert r.headers["X-Frame-Options"] == "DENY"
