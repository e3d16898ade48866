"""Images: presigned S3 PUT to the cell's bucket (moto's server), CDN or presigned GET, the local folder."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from booking.images import LocalImageStore, S3ImageStore
from booking.provision import DatabaseUrls
from moto.server import ThreadedMotoServer

from tests.app.conftest import Service, start_service

BUCKET = "slotstack-eu-images"
REGION = "eu-central-1"


def png(pixels: int = 1) -> bytes:
    """A real, tiny PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * pixels for _ in range(pixels))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", pixels, pixels, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("s3", region_name=REGION, endpoint_url=f"http://{host}:{port}",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield client
    server.stop()


@pytest.fixture(scope="module")
def cdn(db: DatabaseUrls, s3: Any) -> Iterator[Service]:
    s = start_service(db, image_store=S3ImageStore(s3, BUCKET, cdn_url="https://images.eu.example.com"))
    yield s
    s.server.stop()


def reserve(svc: Service, token: str, data: bytes, content_type: str = "image/png", **extra: Any) -> dict[str, Any]:
    r = svc.call("POST", "/v1/images", token, json={"kind": "logo", "content_type": content_type,
                                                     "size": len(data), **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_presigned_put_to_the_cells_bucket_signs_type_and_size_and_serves_via_cdn(cdn: Service, s3: Any) -> None:
    token = cdn.signup("logo-shop")["access_token"]
    data = png(4)
    reserved = reserve(cdn, token, data)
    upload = reserved["upload"]
    query = parse_qs(urlsplit(upload["url"]).query)
    assert urlsplit(upload["url"]).path.startswith(f"/{BUCKET}/")
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"], "S3 must refuse other types/sizes"
    assert query["X-Amz-Expires"] == ["300"]
    assert REGION in query["X-Amz-Credential"][0]
    assert upload["headers"] == {"Content-Type": "image/png", "Content-Length": str(len(data))}
    assert cdn.call("POST", f"/v1/images/{reserved['id']}/complete", token).status_code == 409  # nothing yet
    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=10)
    assert put.status_code == 200
    done = cdn.call("POST", f"/v1/images/{reserved['id']}/complete", token)
    assert done.status_code == 200, done.text
    assert done.json()["url"].startswith("https://images.eu.example.com/")
    key = done.json()["url"].removeprefix("https://images.eu.example.com/")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    assert cdn.call("GET", f"/v1/images/{reserved['id']}", token).json()["url"] == done.json()["url"]
    # issue 16: the upload URL is still valid, but it only ever names the staging copy, never the served key
    html = b"<svg onload=alert(1)>".ljust(len(data), b" ")
    assert requests.put(upload["url"], data=html, headers=upload["headers"], timeout=10).status_code == 200
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data


@pytest.mark.parametrize(("body", "content_type"), [(b"<html>not an image</html>!", "image/png"),
                                                   (png(2), "text/html")])
def test_an_upload_that_is_not_what_was_declared_is_deleted(cdn: Service, s3: Any, body: bytes,
                                                            content_type: str) -> None:
    token = cdn.signup(f"sneaky-{len(body)}-{content_type.split('/')[1]}")["access_token"]
    reserved = reserve(cdn, token, body)
    # a client that ignores the signed headers (real S3 would refuse; the service checks again anyway)
    requests.put(reserved["upload"]["url"], data=body, headers={"Content-Type": content_type}, timeout=10)
    done = cdn.call("POST", f"/v1/images/{reserved['id']}/complete", token)
    assert done.status_code == 422
    assert "it was deleted" in done.json()["detail"]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=cdn.call("GET", "/v1/tenant", token).json()["id"])
    assert listed.get("KeyCount", 0) == 0
    assert cdn.call("GET", f"/v1/images/{reserved['id']}", token).status_code == 404


@pytest.mark.parametrize(("payload", "needle"), [
    ({"kind": "logo", "content_type": "image/svg+xml", "size": 10}, "content_type"),
    ({"kind": "logo", "content_type": "image/png", "size": 3 * 1024 * 1024}, "size"),
    ({"kind": "banner", "content_type": "image/png", "size": 10}, "kind"),
    ({"kind": "staff_photo", "content_type": "image/png", "size": 10}, "staff_id"),
])
def test_type_and_size_are_enforced_before_any_url_is_signed(cdn: Service, payload: dict[str, Any],
                                                             needle: str) -> None:
    token = cdn.signup(f"strict-{needle.replace('_', '')}-{payload['kind'].replace('_', '')}")["access_token"]
    r = cdn.call("POST", "/v1/images", token, json=payload)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(needle)


def test_strict_residency_serves_by_presigned_get_from_the_regional_bucket(db: DatabaseUrls, s3: Any) -> None:
    svc = start_service(db, image_store=S3ImageStore(s3, BUCKET, strict_residency=True))
    try:
        token = svc.signup("strict-residency")["access_token"]
        data = png(3)
        reserved = reserve(svc, token, data)
        requests.put(reserved["upload"]["url"], data=data, headers=reserved["upload"]["headers"], timeout=10)
        url = svc.call("POST", f"/v1/images/{reserved['id']}/complete", token).json()["url"]
        parts = urlsplit(url)
        assert parts.path.startswith(f"/{BUCKET}/")
        assert "X-Amz-Signature" in parse_qs(parts.query)
        assert "example.com" not in url
        assert requests.get(url, timeout=10).content == data
    finally:
        svc.server.stop()


def test_the_local_store_enforces_type_and_size_and_serves_ready_images(db: DatabaseUrls, tmp_path: Path) -> None:
    svc = start_service(db)
    svc.app.state.ctx.images = LocalImageStore(tmp_path / "images", svc.url)
    try:
        signed = svc.signup("local-images")
        token = signed["access_token"]
        staff = svc.call("POST", "/v1/staff", token, json={"name": "Robin", "timezone": "UTC"}).json()["id"]
        data = png(2)
        reserved = reserve(svc, token, data, kind="staff_photo", staff_id=staff)
        upload = reserved["upload"]
        assert upload["url"] == f"{svc.url}/v1/images/{reserved['id']}/content"
        auth = {"Authorization": f"Bearer {token}"}
        wrong = requests.put(upload["url"], data=data, headers={**auth, "Content-Type": "image/jpeg"}, timeout=10)
        assert wrong.status_code == 403
        short = requests.put(upload["url"], data=data[:-1], headers={**auth, "Content-Type": "image/png"}, timeout=10)
        assert short.status_code == 403
        ok = requests.put(upload["url"], data=data, headers={**auth, **upload["headers"]}, timeout=10)
        assert ok.status_code == 200, ok.text
        url = svc.call("POST", f"/v1/images/{reserved['id']}/complete", token).json()["url"]
        assert url.startswith(f"{svc.url}/images/{signed['tenant']['id']}/staff_photo/")
        served = requests.get(url, timeout=10)
        assert served.content == data
        assert served.headers["Content-Type"] == "image/png"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        html = b"<svg onload=alert(1)>".ljust(len(data), b" ")  # issue 16: replacing the checked bytes
        late = requests.put(upload["url"], data=html, headers={**auth, **upload["headers"]}, timeout=10)
        assert late.status_code == 409
        assert requests.get(url, timeout=10).content == data
    finally:
        svc.server.stop()
