"""The booking page speaks the customer's locale (month calendar, dates, times) and shows the tenant's logo."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import requests
from booking.images import LocalImageStore
from booking.provision import DatabaseUrls

from tests.app.conftest import Service, make_business, start_service


def test_a_german_browser_gets_a_monday_first_calendar_and_german_dates_and_times(service: Service) -> None:
    biz = make_business(service, "locale-praxis")
    page = requests.get(f"{service.url}/{biz.slug}/services/{biz.service_id}",
                        params={"tz": "Europe/Berlin", "day": "2026-01-06"},
                        headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}, timeout=30).text
    assert '<html lang="de">' in page
    assert "<caption>Januar 2026</caption>" in page
    assert page.index('abbr="Montag"') < page.index('abbr="Sonntag"'), "weeks start on Monday in Germany"
    assert 'aria-label="Dienstag, 6. Januar 2026" aria-current="date"' in page
    assert "Choose a time on Dienstag, 6. Januar 2026 (Europe/Berlin)" in page
    assert '<a class="slot"' in page
    assert ">09:00<" in page
    us = requests.get(f"{service.url}/{biz.slug}/services/{biz.service_id}",
                      params={"tz": "Europe/Berlin", "day": "2026-01-06", "lang": "en-US"}, timeout=30).text
    assert ">9:00\u202fAM<" in us  # CLDR puts a narrow no-break space before AM
    assert us.index('abbr="Sunday"') < us.index('abbr="Monday"')


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_the_tenant_s_logo_is_on_its_booking_page(db: DatabaseUrls, tmp_path: Path) -> None:
    svc = start_service(db)
    svc.app.state.ctx.images = LocalImageStore(tmp_path / "images", svc.url)
    try:
        biz = make_business(svc, "logo-praxis")
        data = _png()
        reserved = svc.call("POST", "/v1/images", biz.token, json={"kind": "logo", "content_type": "image/png",
                                                                    "size": len(data)}).json()
        put = requests.put(reserved["upload"]["url"], data=data, timeout=10,
                           headers={"Authorization": f"Bearer {biz.token}", **reserved["upload"]["headers"]})
        assert put.status_code == 200, put.text
        url = svc.call("POST", f"/v1/images/{reserved['id']}/complete", biz.token).json()["url"]
        page = requests.get(f"{svc.url}/{biz.slug}", timeout=30).text
        assert f'<img class="logo" src="{url}"' in page
        assert requests.get(url, timeout=10).content == data
    finally:
        svc.server.stop()
