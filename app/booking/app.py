"""The ASGI application: wiring of settings, pool, routers, middleware and error handlers."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from booking import __version__
from booking.api import (
    account,
    bookings,
    catalog,
    credentials,
    images,
    integrations,
    ops,
    privacy,
    public,
    sessions,
    staff,
    users,
)
from booking.auth.throttle import LoginThrottle
from booking.auth.tokens import TokenHasher
from booking.bodylimit import BodyLimitMiddleware
from booking.calendars.addresses import private_networks_too, public_only
from booking.calendars.fetch import FeedFetcher
from booking.calendars.sandbox import warm_up
from booking.calendars.sync import FeedSync, Fetcher
from booking.cells import PeerLookup, make_directory
from booking.clientaddr import ClientAddressMiddleware
from booking.context import Context
from booking.db import make_pool
from booking.errors import install_handlers
from booking.headers import SecurityHeadersMiddleware
from booking.images import MAX_BYTES as IMAGE_MAX_BYTES
from booking.images import ImageStore, LocalImageStore, S3ImageStore
from booking.mail.outbox import OutboxWorker, Sender
from booking.mail.smtp import smtp_sender
from booking.observability import Metrics, ObservabilityMiddleware, configure_logging
from booking.providers import Revoker, http_revoker
from booking.ratelimit import AddressRateLimit
from booking.retention_job import RetentionJob
from booking.secrets.keystore import KeyStore, LocalKeyStore
from booking.settings import Settings


def _utc_now() -> datetime:
    return datetime.now(UTC)


def image_store_from(settings: Settings, base_url: str) -> ImageStore | None:
    """The cell's bucket when IMAGES_S3_BUCKET is set, else a local folder when IMAGES_DIR is, else none."""
    if settings.images_s3_bucket:
        import boto3

        client = boto3.client("s3", region_name=settings.images_s3_region or None,
                              endpoint_url=settings.images_s3_endpoint or None)
        return S3ImageStore(client, settings.images_s3_bucket, cdn_url=settings.images_cdn_url,
                            strict_residency=settings.images_strict_residency)
    if settings.images_dir:
        return LocalImageStore(Path(settings.images_dir), base_url)
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def feed_fetcher(settings: Settings) -> FeedFetcher:
    """The calendar feed fetcher: public addresses only, unless the deployment serves on-premises calendars."""
    return FeedFetcher(deadline_s=settings.ics_timeout_s, max_bytes=settings.ics_max_bytes,
                       policy=private_networks_too if settings.ics_allow_private else public_only)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _utc_now,
               peer_lookup: PeerLookup | None = None, fetch_ics: Fetcher | None = None,
               registry: CollectorRegistry | None = None, throttle: LoginThrottle | None = None,
               keys: KeyStore | None = None, revoke: Revoker | None = None,
               image_store: ImageStore | None = None, anonymous: AddressRateLimit | None = None,
               send_mail: Sender | None = None) -> FastAPI:
    """Build the service for one cell; every collaborator that touches the outside world is injectable."""
    pool = make_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max,
                     timeout=settings.pool_timeout_s)
    metrics = Metrics(registry or CollectorRegistry())
    cell_urls = dict(settings.cell_urls) or {settings.cell: settings.base_url}
    ctx = Context(
        settings=settings, pool=pool, clock=clock, metrics=metrics,
        cells=make_directory(settings.cell, cell_urls, peer_key=settings.peer_key, timeout_s=settings.peer_timeout_s,
                             lookup=peer_lookup),
        feeds=FeedSync(pool, fetch_ics or feed_fetcher(settings), clock, workers=settings.feed_workers,
                       per_tenant=settings.feed_per_tenant),
        tokens=TokenHasher.from_secret_key(settings.secret_key), throttle=throttle or LoginThrottle(clock),
        keys=keys if keys is not None else (LocalKeyStore(Path(settings.key_dir)) if settings.key_dir else None),
        revoke=revoke or http_revoker(settings.revoke_urls),
        anonymous=anonymous or AddressRateLimit(clock, per_minute=settings.public_rate_per_minute,
                                                burst=settings.public_rate_burst),
        images=image_store if image_store is not None else image_store_from(settings, cell_urls[settings.cell]),
    )

    if send_mail is None and settings.smtp_host:
        send_mail = smtp_sender(settings.smtp_host, settings.smtp_port)
    outbox = None if send_mail is None else OutboxWorker(pool, send_mail, clock)
    retention = (RetentionJob(pool, settings.cell, clock, every_s=settings.retention_every_s,
                              heartbeat_url=settings.retention_heartbeat_url or None)
                 if settings.retention_every_s > 0 else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)  # start even if the database is down: /readyz reports it
        if outbox is not None:
            outbox.start()
        ctx.feeds.start(settings.cell)
        if retention is not None:
            retention.start()
        # about a second of imports in the calendar sandbox's forkserver: paid at start, not by a request
        threading.Thread(target=warm_up, name="sandbox-warm-up", daemon=True).start()
        # Everything imported so far lives as long as the process: move it out of the cyclic GC's view so
        # full collections stop scanning it (they showed up as the slot search's p99 outliers).
        gc.freeze()
        try:
            yield
        finally:
            ctx.feeds.close()
            if retention is not None:
                retention.stop()
            if outbox is not None:
                outbox.stop()
            pool.close()

    app = FastAPI(title="slotstack booking", version=__version__, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None)
    app.state.ctx = ctx
    app.state.outbox = outbox
    install_handlers(app, pool)
    for module in (ops, account, sessions, users, credentials, integrations, privacy, images, staff, catalog,
                   bookings, public):
        app.include_router(module.router)
    from booking.pages import account as web_account
    from booking.pages import booking as web

    app.include_router(web_account.router)  # before the public page's /{slug}: /login and /account are reserved
    app.include_router(web.router)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, clock=time.perf_counter)
    # every response, errors included; the booking page may show the tenant's logo from the cell's image CDN
    app.add_middleware(SecurityHeadersMiddleware, images_origin=_origin(settings.images_cdn_url))
    # before any route or authentication reads a byte: bodies are capped by route
    app.add_middleware(BodyLimitMiddleware, large_limit=max(settings.ics_max_bytes, IMAGE_MAX_BYTES))
    # outermost: everything inside (throttles, audit, logs) sees the real client address
    app.add_middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn booking.app:create_app_from_env --factory` and `booking serve`."""
    configure_logging()
    return create_app(Settings.from_env())
