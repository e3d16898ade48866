"""Request bodies are capped before anything reads them, authenticated or not.

A body larger than the route accepts is refused from its Content-Length before a byte is read, and a body
without one (chunked) is cut off as soon as it passes the cap: the service never buffers more than that.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 64 * 1024
# routes that take files (prefix, suffix): calendar uploads and the embedded store's image uploads
LARGE = (("/v1/staff/", "/calendar"), ("/v1/images/", "/content"))


class BodyTooLarge(HTTPException):
    """The client kept sending past the cap (an HTTPException: FastAPI passes those through its body parsing
    instead of turning them into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes, the most this endpoint accepts")


class BodyLimitMiddleware:
    """413 for a body over `limit` bytes (`large_limit` on the calendar upload route)."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_LIMIT, large_limit: int = 2_000_000) -> None:
        self.app = app
        self.limit = limit
        self.large_limit = large_limit

    def _limit_for(self, path: str) -> int:
        return self.large_limit if any(path.startswith(a) and path.endswith(b) for a, b in LARGE) else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is larger than {limit} bytes, the most this endpoint "
                                 "accepts"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
