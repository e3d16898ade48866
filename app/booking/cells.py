"""Where does a tenant live? This cell's directory first, then the other cells of CELL_URLS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import requests

# Ask a peer cell `GET {url}/v1/directory/{slug}`; returns its cell name if the tenant is homed there.
PeerLookup = Callable[[str, str], "str | None"]


def http_peer_lookup(timeout_s: float) -> PeerLookup:
    """The production peer lookup: a plain HTTP GET with a short timeout; any failure means 'not there'."""

    def lookup(base_url: str, slug: str) -> str | None:
        try:
            resp = requests.get(f"{base_url}/v1/directory/{slug}", timeout=timeout_s)
        except requests.RequestException:
            return None
        if resp.status_code != 200:
            return None
        cell = resp.json().get("cell")
        return cell if isinstance(cell, str) else None

    return lookup


class CellDirectory:
    """Finds the home cell of slugs this cell does not hold, asking each peer once per cache period.

    Peers answer only from their own directory (never forwarding), so lookups cannot loop.
    """

    def __init__(self, cell: str, cell_urls: Mapping[str, str], lookup: PeerLookup,
                 *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cell = cell
        self.cell_urls = dict(cell_urls)
        self._lookup = lookup
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def url_of(self, cell: str) -> str | None:
        """Base URL of a cell, if CELL_URLS names it."""
        return self.cell_urls.get(cell)

    def remote_home(self, slug: str) -> str | None:
        """Name of the other cell that homes `slug`, or None if no peer claims it."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(slug)
            if hit is not None and hit[0] > now:
                return hit[1]
        found: str | None = None
        for name, url in self.cell_urls.items():
            if name == self.cell:
                continue
            if self._lookup(url, slug) == name:
                found = name
                break
        with self._lock:
            self._cache[slug] = (now + self._ttl, found)
        return found

    def forget(self, slug: str) -> None:
        """Drop a cached answer (after this cell created or received the tenant)."""
        with self._lock:
            self._cache.pop(slug, None)
