"""Image upload (presigned, direct to the cell's store), verification, and serving URLs."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from booking.audit import address_of, record
from booking.context import Context, ctx_of
from booking.db import tenant_tx
from booking.errors import ApiError, not_found
from booking.images import CONTENT_TYPES, KEY, MAX_BYTES, ImageStore, LocalImageStore, sniff_ok

router = APIRouter(tags=["images"])


def _store(ctx: Context) -> ImageStore:
    if ctx.images is None:
        raise ApiError(503, "no image store is configured; set IMAGES_DIR, or IMAGES_S3_BUCKET for the cell's bucket")
    return ctx.images


class ImageIn(BaseModel):
    kind: str = Field(max_length=20, description="logo or staff_photo")
    staff_id: uuid.UUID | None = None
    content_type: str = Field(max_length=100)
    size: int = Field(description="exact size in bytes of the file to upload")


@router.post("/v1/images", status_code=201)
def start_upload(body: ImageIn, request: Request) -> dict[str, Any]:
    """Reserve an image and get a short-lived upload URL bound to this content type and size."""
    ctx = ctx_of(request)
    if body.kind not in ("logo", "staff_photo"):
        raise ApiError(422, f"kind={body.kind!r} is not allowed; use 'logo' or 'staff_photo'")
    if (body.kind == "staff_photo") != (body.staff_id is not None):
        raise ApiError(422, "staff_id is required for kind 'staff_photo' and not allowed for 'logo'")
    if body.content_type not in CONTENT_TYPES:
        raise ApiError(422, f"content_type={body.content_type!r} is not allowed; use one of {list(CONTENT_TYPES)}")
    if not 0 < body.size <= MAX_BYTES:
        raise ApiError(422, f"size={body.size} must be 1 to {MAX_BYTES} bytes")
    store = _store(ctx)
    with ctx.authed(request) as (conn, who):
        if body.staff_id and conn.execute("SELECT 1 FROM staff WHERE id = %s", (body.staff_id,)).fetchone() is None:
            raise not_found("staff", body.staff_id)
        image_id = uuid.uuid4()
        key = f"{who.tenant_id}/{body.kind}/{image_id}"
        conn.execute("INSERT INTO images (tenant_id, id, kind, staff_id, key, content_type, size) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                     (who.tenant_id, image_id, body.kind, body.staff_id, key, body.content_type, body.size))
    return {"id": str(image_id), "upload": store.upload(key, body.content_type, body.size)}


@router.put("/v1/images/{image_id}/content")
async def local_upload(image_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """The embedded default's upload target: the same checks S3 applies to a presigned PUT."""
    ctx = ctx_of(request)
    store = _store(ctx)
    if not isinstance(store, LocalImageStore):
        raise ApiError(404, "uploads go to the URL returned by POST /v1/images")
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_BYTES:
        raise ApiError(413, f"an image may be at most {MAX_BYTES} bytes")
    data = await request.body()
    with ctx.authed(request) as (conn, _):
        row = conn.execute("SELECT * FROM images WHERE id = %s", (image_id,)).fetchone()
    if row is None:
        raise not_found("image", image_id)
    if row["status"] == "ready":  # checked and served: its bytes must not change any more
        raise ApiError(409, f"image {image_id} is complete; upload a new image with POST /v1/images to replace it")
    if request.headers.get("content-type") != row["content_type"] or len(data) != row["size"]:
        raise ApiError(403, f"this upload URL is for {row['content_type']} of exactly {row['size']} bytes")
    store.write(row["key"], data, row["content_type"])
    return {"uploaded": str(image_id)}


@router.post("/v1/images/{image_id}/complete")
def complete_upload(image_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Check what was uploaded (size, type, magic bytes) and make the image live; a mismatch is deleted."""
    ctx = ctx_of(request)
    store = _store(ctx)
    with ctx.authed(request) as (conn, who):
        row = conn.execute("SELECT * FROM images WHERE id = %s", (image_id,)).fetchone()
        if row is None:
            raise not_found("image", image_id)
        stored = store.stat(row["key"])
        if stored is None:
            raise ApiError(409, "nothing was uploaded yet; PUT the file to the upload URL first")
        if (stored.size, stored.content_type) != (row["size"], row["content_type"]) or not sniff_ok(
                row["content_type"], stored.head):
            store.delete(row["key"])
            conn.execute("DELETE FROM images WHERE id = %s", (image_id,))
            raise ApiError(422, f"the uploaded file is not a {row['content_type']} of {row['size']} bytes; "
                                "it was deleted: start again with POST /v1/images")
        if not store.publish(row["key"], stored):
            raise ApiError(409, "the upload changed while it was checked; call complete again")
        conn.execute("UPDATE images SET status = 'ready' WHERE id = %s", (image_id,))
        record(conn, who.tenant_id, f"user:{who.user_id}", "image.uploaded", str(image_id), address_of(request))
    return {"id": str(image_id), "kind": row["kind"], "url": store.url(row["key"])}


@router.get("/v1/images/{image_id}")
def image_url(image_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Where to fetch a ready image (a CDN URL, or a short-lived presigned URL under strict residency)."""
    ctx = ctx_of(request)
    store = _store(ctx)
    with ctx.authed(request) as (conn, _):
        row = conn.execute("SELECT * FROM images WHERE id = %s AND status = 'ready'", (image_id,)).fetchone()
    if row is None:
        raise not_found("image", image_id)
    return {"id": str(image_id), "kind": row["kind"], "url": store.url(row["key"])}


@router.get("/images/{tenant_id}/{kind}/{image_id}", include_in_schema=False)
def serve_local(tenant_id: uuid.UUID, kind: str, image_id: uuid.UUID, request: Request) -> Response:
    """The embedded default serves ready images itself (in the cloud the CDN or the bucket does)."""
    ctx = ctx_of(request)
    store = ctx.images
    key = f"{tenant_id}/{kind}/{image_id}"
    if not isinstance(store, LocalImageStore) or not KEY.fullmatch(key):
        raise not_found("image", image_id)
    with tenant_tx(ctx.pool, tenant_id) as conn:
        ready = conn.execute("SELECT 1 FROM images WHERE key = %s AND status = 'ready'", (key,)).fetchone()
    found = store.read(key) if ready else None
    if found is None:
        raise not_found("image", image_id)
    return Response(found[0], media_type=found[1], headers={"Cache-Control": "public, max-age=86400"})
