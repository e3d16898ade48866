"""Security headers on every response: CSP (with frame-ancestors), HSTS, nosniff, Referrer-Policy.

A pure ASGI middleware rather than a FastAPI dependency, so error responses, 404s and the exception
handlers' answers carry the headers too.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TEMPLATES = Path(__file__).parent / "templates"
# Swagger UI (/docs) loads its script and style from jsDelivr and starts itself with an inline script.
DOCS_CDN = "https://cdn.jsdelivr.net"


def inline_style_hash(template: Path = TEMPLATES / "base.html") -> str:
    """CSP source for the one inline <style> block of the pages, so 'unsafe-inline' is never needed."""
    match = re.search(r"<style>(.*?)</style>", template.read_text(), re.S)
    if match is None:
        return "'none'"
    digest = hashlib.sha256(match.group(1).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_csp(images: str = "") -> str:
    """The policy for everything but /docs: only our own origin (and the cell's image CDN), no framing, no plugins."""
    img = f"'self' data: {images}".rstrip()
    return ("default-src 'none'; script-src 'none'; " f"style-src {inline_style_hash()}; img-src {img}; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")


def docs_csp() -> str:
    """Swagger UI needs its CDN and its inline bootstrap script; still no framing."""
    return (f"default-src 'none'; script-src {DOCS_CDN} 'unsafe-inline'; style-src {DOCS_CDN}; "
            "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
            "base-uri 'none'; frame-ancestors 'none'; object-src 'none'")


HSTS = "max-age=63072000; includeSubDomains"  # two years, as hstspreload.org asks for


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response, unless a handler already chose its own."""

    def __init__(self, app: ASGIApp, images_origin: str = "") -> None:
        self.app = app
        common = [(b"strict-transport-security", HSTS.encode()), (b"x-content-type-options", b"nosniff"),
                  (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                  (b"cross-origin-opener-policy", b"same-origin")]
        self.page = [*common, (b"content-security-policy", page_csp(images_origin).encode())]
        self.docs = [*common, (b"content-security-policy", docs_csp().encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope.get("path") == "/docs" else self.page

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *[(k, v) for k, v in extra if k not in present]]
            await send(message)

        await self.app(scope, receive, with_headers)
