"""Request bodies read with a cap: a client cannot make the service buffer more than the route accepts."""

from __future__ import annotations

from fastapi import Request

from booking.errors import ApiError


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as Content-Length or the bytes received pass `limit` (nothing more is read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request body is {declared} bytes; this endpoint accepts at most {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, f"the request body is larger than {limit} bytes, the most this endpoint accepts")
    return bytes(body)
