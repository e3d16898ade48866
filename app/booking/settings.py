"""Service settings, read once from the environment and validated at load."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

CELL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable, the value and what is allowed."""


def parse_cell_urls(raw: str) -> dict[str, str]:
    """Parse CELL_URLS: a JSON object `{"us": "http://..."}` or `us=http://..,eu=http://..`."""
    raw = raw.strip()
    if not raw:
        return {}
    pairs: dict[str, str]
    if raw.startswith("{"):
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"CELL_URLS={raw!r} is not valid JSON ({exc}); use {{\"us\": \"https://...\"}}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise SettingsError(f"CELL_URLS={raw!r} must map cell names to URL strings")
        pairs = {str(k): v for k, v in loaded.items()}
    else:
        pairs = {}
        for item in raw.split(","):
            name, sep, url = item.strip().partition("=")
            if not sep:
                raise SettingsError(f"CELL_URLS entry {item!r} must look like 'us=https://us.example.com'")
            pairs[name.strip()] = url.strip()
    for name, url in pairs.items():
        if not CELL_NAME.fullmatch(name):
            raise SettingsError(f"CELL_URLS has cell name {name!r}; use lower-case letters, digits and '-'")
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"CELL_URLS[{name!r}]={url!r} must be an http(s) URL")
    return {k: v.rstrip("/") for k, v in pairs.items()}


@dataclass(frozen=True)
class Settings:
    """Everything the running service needs to know about its deployment."""

    database_url: str
    """Connection URL of the service role (owns nothing, cannot bypass row-level security)."""
    secret_key: str
    """Signs cancel links; at least 32 characters, the same on every instance of a cell."""
    cell: str = "us"
    """Name of this cell; equals the residency it serves (us, eu, au)."""
    cell_urls: Mapping[str, str] = field(default_factory=dict)
    """Public base URL of every cell, this one included."""
    pool_min: int = 2
    pool_max: int = 20
    pool_timeout_s: float = 5.0
    """How long a request waits for a database connection before answering 503."""
    peer_timeout_s: float = 2.0
    """How long to wait for another cell when asking where a tenant lives."""
    peer_key: str = ""
    """Key shared by the cells of one environment (PEER_KEY): signs slug claims between cells. Unset, signup
    only asks the other cells where a slug lives (two signups racing in two cells are then not prevented)."""
    ics_max_bytes: int = 2_000_000
    ics_timeout_s: float = 10.0
    """The whole fetch of a calendar feed (connect, TLS, headers and body) must finish within this."""
    ics_allow_private: bool = False
    """Allow calendar feed URLs on private networks (on-premises calendars); off in the cloud. Link-local addresses
    and the cloud platform endpoints stay refused."""
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """Networks whose X-Forwarded-For is believed (TRUSTED_PROXIES: the gateway subnets, set by the program);
    empty: the connection's address is the client's."""
    public_rate_per_minute: int = 120
    """Anonymous requests (public API, booking page) per client address and minute, after the burst."""
    public_rate_burst: int = 60
    smtp_host: str = ""
    """Where the outbox worker delivers email (SMTP_HOST, default localhost: the local stack's sink); empty: no
    worker runs in this process (messages wait in the outbox)."""
    smtp_port: int = 25
    mail_from: str = "slotstack <bookings@localhost>"
    """Sender of every email (MAIL_FROM), with the environment's own domain."""
    retention_every_s: int = 86_400
    """How often each process applies the tenants' retention (RETENTION_EVERY_S; 0: never, e.g. in tests)."""
    retention_heartbeat_url: str = ""
    """The monitor's heartbeat URL pinged after each retention run (RETENTION_HEARTBEAT_URL)."""
    feed_workers: int = 4
    """Threads that fetch calendar feeds in the background (never a request thread)."""
    feed_per_tenant: int = 2
    """At most this many feeds of one tenant are queued or being fetched at a time."""
    key_dir: str = ""
    """Local key store (KEK file + wrapped tenant data keys); the embedded default uses DATA_DIR/keys."""
    revoke_urls: Mapping[str, str | None] = field(default_factory=dict)
    """Override of providers' token revocation endpoints (PROVIDER_REVOKE_URLS, JSON)."""
    images_dir: str = ""
    """Local image folder (the embedded default uses DATA_DIR/images)."""
    images_s3_bucket: str = ""
    """The cell's image bucket; when set, uploads are presigned S3 PUTs."""
    images_s3_region: str = ""
    images_s3_endpoint: str = ""
    images_cdn_url: str = ""
    """The cell's CloudFront URL for serving images."""
    images_strict_residency: bool = False
    """Serve images by presigned GET from the regional bucket instead of the CDN."""

    def __post_init__(self) -> None:
        if not CELL_NAME.fullmatch(self.cell):
            raise SettingsError(f"CELL={self.cell!r} is not a cell name; use e.g. 'us', 'eu' or 'au'")
        if len(self.secret_key) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters; generate one with "
                                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        if self.peer_key and len(self.peer_key) < 32:
            raise SettingsError("PEER_KEY must be at least 32 characters and the same in every cell of the "
                                "environment (Key Vault secret booking-peer-key in the cloud)")
        if self.cell_urls and self.cell not in self.cell_urls:
            raise SettingsError(
                f"CELL_URLS has no URL for this cell CELL={self.cell!r}; it lists {sorted(self.cell_urls)}"
            )

    @property
    def mail_domain(self) -> str:
        """The sender's domain, also used in Message-IDs."""
        return self.mail_from.rsplit("@", 1)[-1].rstrip(">").strip() or "localhost"

    @property
    def base_url(self) -> str:
        """This cell's public base URL, used for links such as cancel_url."""
        return self.cell_urls.get(self.cell, "")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (see docs/booking.md, "Configuration")."""
        env = os.environ if env is None else env
        url = env.get("DATABASE_URL", "")
        if not url:
            raise SettingsError(
                "DATABASE_URL is not set; give the service role's URL or use `booking serve --data-dir`")
        return cls(
            database_url=url,
            secret_key=env.get("SECRET_KEY", ""),
            cell=env.get("CELL", "us"),
            cell_urls=parse_cell_urls(env.get("CELL_URLS", "")),
            pool_max=_int(env, "DB_POOL_MAX", 20),
            pool_min=_int(env, "DB_POOL_MIN", 2),
            peer_key=env.get("PEER_KEY", ""),
            ics_allow_private=env.get("ICS_ALLOW_PRIVATE_NETWORKS", "") in ("1", "true", "yes"),
            key_dir=env.get("KEY_DIR", ""),
            revoke_urls=_json_map(env, "PROVIDER_REVOKE_URLS"),
            images_dir=env.get("IMAGES_DIR", ""),
            images_s3_bucket=env.get("IMAGES_S3_BUCKET", ""),
            images_s3_region=env.get("IMAGES_S3_REGION", ""),
            images_s3_endpoint=env.get("IMAGES_S3_ENDPOINT_URL", ""),
            images_cdn_url=env.get("IMAGES_CDN_URL", ""),
            images_strict_residency=env.get("IMAGES_STRICT_RESIDENCY", "") in ("1", "true", "yes"),
            smtp_host=env.get("SMTP_HOST", "localhost"),
            retention_every_s=_int(env, "RETENTION_EVERY_S", 86_400),
            retention_heartbeat_url=env.get("RETENTION_HEARTBEAT_URL", ""),
            smtp_port=_int(env, "SMTP_PORT", 25),
            mail_from=env.get("MAIL_FROM", "slotstack <bookings@localhost>"),
            public_rate_per_minute=_int(env, "PUBLIC_RATE_PER_MINUTE", 120),
            public_rate_burst=_int(env, "PUBLIC_RATE_BURST", 60),
            trusted_proxies=parse_networks(env.get("TRUSTED_PROXIES", ""), "TRUSTED_PROXIES"),
        )


def parse_networks(raw: str, key: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated CIDRs, e.g. `10.16.0.0/24,10.17.0.0/24`."""
    networks = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError:
            raise SettingsError(f"{key} has {item!r}, which is not a network; use CIDRs like 10.16.0.0/24") from None
    return tuple(networks)


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not an integer") from None
    if value < 1:
        raise SettingsError(f"{key}={raw!r} must be at least 1")
    return value


def _json_map(env: Mapping[str, str], key: str) -> dict[str, str | None]:
    raw = env.get(key, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{key}={raw!r} is not valid JSON ({exc}); use {{\"google\": \"https://...\"}}") from exc
    if not isinstance(value, dict) or not all(v is None or isinstance(v, str) for v in value.values()):
        raise SettingsError(f"{key}={raw!r} must map provider names to URL strings (or null)")
    return {str(k): v for k, v in value.items()}
