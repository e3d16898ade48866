"""Tenant logos and staff photos: direct upload to the cell's storage, then verified before use.

`S3ImageStore`: a presigned PUT to the cell's bucket whose signature covers Content-Type and
Content-Length (S3 refuses any other type or size), served through the cell's CDN URL, or by a short
presigned GET from the regional bucket when the cell has strict image residency (CloudFront caches at
edges worldwide). `LocalImageStore`: the embedded default, a folder served by the service itself.
Either way `complete` re-checks the stored object (size, declared type and the file's magic bytes) and
deletes it if anything differs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

CONTENT_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/webp": b"RIFF"}
MAX_BYTES = 2 * 1024 * 1024
UPLOAD_TTL_S = 300
KEY = re.compile(r"^[0-9a-f-]{36}/(logo|staff_photo)/[0-9a-f-]{36}$")
# Uploads land under this prefix and `complete` copies the checked version to the served key: an upload URL
# still valid after `complete` can then only overwrite a copy nobody serves.
STAGING = "uploads/"


def sniff_ok(content_type: str, head: bytes) -> bool:
    """Whether the first bytes of a file are what its content type says (WebP also has WEBP at 8..12)."""
    magic = CONTENT_TYPES[content_type]
    return head.startswith(magic) and (content_type != "image/webp" or head[8:12] == b"WEBP")


@dataclass(frozen=True)
class Stored:
    """What the store holds under a key."""

    size: int
    content_type: str
    head: bytes
    etag: str = ""


class ImageStore(Protocol):
    """Where images go."""

    def upload(self, key: str, content_type: str, size: int) -> dict[str, Any]:
        """How the client uploads: method, URL and the exact headers to send."""

    def stat(self, key: str) -> Stored | None:
        """The stored object's size, type and first bytes, or None if nothing was uploaded."""

    def publish(self, key: str, checked: Stored) -> bool:
        """Make the version that `stat` returned (and `complete` checked) the served one; False if it changed."""

    def delete(self, key: str) -> None:
        """Remove an object (a rejected upload or an erased image)."""

    def url(self, key: str) -> str:
        """Where a browser fetches the image."""


class S3ImageStore:
    """The cell's S3 bucket (`client` is a boto3 S3 client for the cell's region)."""

    def __init__(self, client: Any, bucket: str, *, cdn_url: str = "", strict_residency: bool = False,
                 get_ttl_s: int = 900) -> None:
        if not cdn_url and not strict_residency:
            raise ValueError("S3 images need IMAGES_CDN_URL, or IMAGES_STRICT_RESIDENCY=1 for presigned GETs")
        self.client, self.bucket = client, bucket
        self.cdn_url, self.strict, self.get_ttl_s = cdn_url.rstrip("/"), strict_residency, get_ttl_s

    def upload(self, key: str, content_type: str, size: int) -> dict[str, Any]:
        """See `ImageStore.upload`: the URL names a staging key, never the key that is served."""
        url = self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": STAGING + key, "ContentType": content_type,
                                  "ContentLength": size}, ExpiresIn=UPLOAD_TTL_S)
        return {"method": "PUT", "url": url, "headers": {"Content-Type": content_type, "Content-Length": str(size)}}

    def stat(self, key: str) -> Stored | None:
        """See `ImageStore.stat`."""
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=STAGING + key, Range="bytes=0-15")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "InvalidRange"):
                return None
            raise
        size = int(obj["ContentRange"].rsplit("/", 1)[1]) if obj.get("ContentRange") else int(obj["ContentLength"])
        return Stored(size=size, content_type=obj.get("ContentType", ""), head=obj["Body"].read(),
                      etag=str(obj.get("ETag", "")))

    def publish(self, key: str, checked: Stored) -> bool:
        """See `ImageStore.publish`: copy exactly the checked version (ETag) to the served key, drop the staging
        copy. False if the staging object changed since it was checked."""
        from botocore.exceptions import ClientError

        try:
            self.client.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket,
                                    "Key": STAGING + key}, CopySourceIfMatch=checked.etag,
                                    MetadataDirective="COPY")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise
        self.client.delete_object(Bucket=self.bucket, Key=STAGING + key)
        return True

    def delete(self, key: str) -> None:
        """See `ImageStore.delete`."""
        self.client.delete_object(Bucket=self.bucket, Key=STAGING + key)
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def url(self, key: str) -> str:
        """See `ImageStore.url`: the CDN, or a presigned GET from the regional bucket under strict residency."""
        if self.strict:
            return str(self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                          ExpiresIn=self.get_ttl_s))
        return f"{self.cdn_url}/{key}"


class LocalImageStore:
    """A folder; uploads go to the service's own `PUT /v1/images/{id}/content`, which enforces type and size."""

    def __init__(self, directory: Path, base_url: str) -> None:
        self.dir, self.base_url = Path(directory), base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        if not KEY.fullmatch(key):
            raise ValueError(f"image key {key!r} is malformed")
        return self.dir / key

    def upload(self, key: str, content_type: str, size: int) -> dict[str, Any]:
        """See `ImageStore.upload`."""
        image_id = key.rsplit("/", 1)[1]
        return {"method": "PUT", "url": f"{self.base_url}/v1/images/{image_id}/content",
                "headers": {"Content-Type": content_type, "Content-Length": str(size)}}

    def write(self, key: str, data: bytes, content_type: str) -> None:
        """Store the bytes the service received (after its own checks)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        path.with_suffix(".type").write_text(content_type)

    def stat(self, key: str) -> Stored | None:
        """See `ImageStore.stat`."""
        path = self._path(key)
        if not path.exists():
            return None
        with path.open("rb") as f:
            head = f.read(16)
        return Stored(size=path.stat().st_size, content_type=path.with_suffix(".type").read_text(), head=head)

    def read(self, key: str) -> tuple[bytes, str] | None:
        """Bytes and type for serving, or None."""
        path = self._path(key)
        if not path.exists():
            return None
        return path.read_bytes(), path.with_suffix(".type").read_text()

    def publish(self, key: str, checked: Stored) -> bool:
        """See `ImageStore.publish`: the file is already in place; the service refuses uploads to a ready image."""
        return True

    def delete(self, key: str) -> None:
        """See `ImageStore.delete`."""
        for p in (self._path(key), self._path(key).with_suffix(".type")):
            p.unlink(missing_ok=True)

    def url(self, key: str) -> str:
        """See `ImageStore.url`."""
        return f"{self.base_url}/images/{key}"
