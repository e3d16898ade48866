"""The monitor's HTTP server: /metrics, /healthz, /ack/<token>, /status/, /ingest, /alertmanager."""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from uptime import tokens
from uptime.core import Core, UptimeError

log = logging.getLogger("uptime.server")

MAX_BODY = 4 << 20

# A POST handler gets (body, headers) and returns (status, JSON-able reply).
PostHandler = Callable[[bytes, dict[str, str]], tuple[int, dict[str, Any]]]


class HttpError(Exception):
    """A client error answered with this status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Redirect(Exception):
    """Answer 302 with this location."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class MonitorServer:
    """A threaded HTTP server in a daemon thread; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, core: Core, registry: CollectorRegistry, ack_secret: bytes, status_dir: str | Path,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.core = core
        self.registry = registry
        self.ack_secret = ack_secret
        self.status_dir = Path(status_dir)
        self.posts: dict[str, PostHandler] = {}
        # Token scope -> acknowledge(id, by) -> fresh?; the empty scope is the monitor's own incidents.
        self.acks: dict[str, Callable[[int, str], bool]] = {"": core.ack}
        # /ping/... (heartbeats) answers GET and POST alike: jobs often call it with `curl URL`.
        self.ping: Callable[[str, bytes], tuple[int, dict[str, Any]]] | None = None
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:
            raise UptimeError(f"cannot listen on {host}:{port}: {exc.strerror}; another process may hold the port "
                              "(stop it), or choose another with monitor.listen or --listen HOST:PORT") from exc
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="http", daemon=True)

    def start(self) -> MonitorServer:
        """Start serving in the background."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self.thread.is_alive():  # shutdown() would wait forever for a loop that never started
            self.httpd.shutdown()
        self.httpd.server_close()

    # -- routes --------------------------------------------------------------------------------------

    def get(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET, or raise HttpError / Redirect."""
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/healthz":
            return 200, "text/plain; charset=utf-8", b"ok\n"
        if path == "/":
            raise Redirect("/status/")
        if path.startswith("/ping/") and self.ping is not None:
            status, reply = self.ping(path, b"")
            return status, "application/json", json.dumps(reply).encode()
        if path.startswith("/ack/"):
            scope, incident = self._incident(path)
            label = f"{'alert group' if scope else 'incident'} {incident}"
            page = (f"<!doctype html><title>Acknowledge {label}</title><h1>{label.capitalize()}</h1>"
                    f"<form method=post><label>Your name <input name=by></label> "
                    f"<button type=submit>Acknowledge</button></form>")
            # GET never acknowledges: link previews and scanners open links in SMS and email.
            return 200, "text/html; charset=utf-8", page.encode()
        if path == "/status" or path.startswith("/status/"):
            return self._static(path.removeprefix("/status").lstrip("/") or "index.html")
        raise HttpError(404, f"no such page {path}; try /status/, /metrics or /healthz")

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, JSON reply) for a POST; ``headers`` have lower-case names."""
        if path.startswith("/ack/"):
            scope, incident = self._incident(path)
            fields = parse_qs(body.decode("utf-8", "replace"))
            by = (fields.get("by") or ["ack link"])[0][:100] or "ack link"
            try:
                fresh = self.acks[scope](incident, by)
            except UptimeError as exc:
                raise HttpError(404, str(exc)) from exc
            key = "alert_group" if scope else "incident"
            return 200, {key: incident, "acknowledged": True, "already": not fresh}
        if path.startswith("/ping/") and self.ping is not None:
            return self.ping(path, body)
        handler = self.posts.get(path)
        if handler is None:
            raise HttpError(404, f"nothing accepts POST at {path}")
        return handler(body, headers)

    def _incident(self, path: str) -> tuple[str, int]:
        token = path.removeprefix("/ack/").strip("/")
        # Longest scope first: the empty scope would refuse "am12.x" anyway, but never try it first.
        for scope in sorted(self.acks, key=len, reverse=True):
            incident = tokens.verify(token, self.ack_secret, scope)
            if incident is not None:
                return scope, incident
        raise HttpError(403, "this acknowledgement link is not valid; use the link from the latest page "
                             "or `uptime ack INCIDENT`")

    def _static(self, name: str) -> tuple[int, str, bytes]:
        if "/" in name or name.startswith(".") or "\\" in name:
            raise HttpError(404, f"no such status file {name!r}")
        file = self.status_dir / name
        if not file.is_file():
            raise HttpError(404, f"no such status file {name!r}; the page is written every 10 s once the monitor runs")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/json":
            kind += "; charset=utf-8"
        return 200, kind, file.read_bytes()


def _handler(server: MonitorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # a client that stops sending must not hold a thread forever

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _reply(self, status: int, kind: str, body: bytes, location: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if location:
                self.send_header("Location", location)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, reason: str) -> None:
            if self.path.startswith("/ack/") and self.command == "GET":
                self._reply(status, "text/html; charset=utf-8",
                            f"<!doctype html><title>Error</title><p>{html.escape(reason)}</p>".encode())
            else:
                self._reply(status, "application/json", json.dumps({"error": reason}).encode())

        def do_GET(self) -> None:
            try:
                status, kind, body = server.get(urlsplit(self.path).path)
            except Redirect as redirect:
                self._reply(302, "text/plain", b"", location=redirect.location)
                return
            except HttpError as exc:
                self._error(exc.status, exc.reason)
                return
            except Exception:
                log.exception("GET %s failed", self.path)
                self._error(503, "the monitor could not answer; see its log")
                return
            self._reply(status, kind, body)

        do_HEAD = do_GET

        def _discard(self, length: int) -> None:
            # Read (a bounded amount of) the refused body so the client sees the 413 instead of a reset.
            self.close_connection = True
            left = min(max(length, 0), 16 * MAX_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)

        def _not_allowed(self) -> None:
            self.send_response(405)
            body = json.dumps({"error": f"{self.command} is not supported; use GET or POST"}).encode()
            self.send_header("Allow", "GET, HEAD, POST")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0 or length > MAX_BODY:
                    self._discard(length)
                    raise HttpError(413, f"body of {length} bytes is over the {MAX_BODY} byte limit")
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply = server.post(urlsplit(self.path).path, body, headers)
            except HttpError as exc:
                self._error(exc.status, exc.reason)
                return
            except ValueError as exc:
                self._error(400, f"bad request: {exc}")
                return
            except Exception:
                log.exception("POST %s failed", self.path)
                self._error(503, "the monitor could not process this request; see its log")
                return
            self._reply(status, "application/json", json.dumps(reply).encode())

    return Handler
