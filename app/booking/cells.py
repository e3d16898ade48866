"""Where does a tenant live? This cell's directory first, then the other cells of CELL_URLS."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping

import requests

# Ask a peer cell `GET {url}/v1/directory/{slug}`; returns its cell name if the tenant is homed there, None if
# the peer answered that it is not, and raises (PeerUnreachable or any exception) if the peer could not be asked.
PeerLookup = Callable[[str, str], "str | None"]


# Ask a peer cell to record that this cell is about to create `slug` (POST {url}/v1/directory/{slug}/claims,
# HMAC-signed with the environment's PEER_KEY): True granted, False refused (the slug is taken or claimed
# there), None when the peer does not know claims yet (an older release during a rollout: the caller falls
# back to asking where the slug lives); raises PeerUnreachable when the peer could not be asked.
PeerClaim = Callable[[str, str], "bool | None"]
# Withdraw this cell's claim at a peer after a signup failed (best effort: claims expire anyway).
PeerRelease = Callable[[str, str], None]
CLAIM_TTL_S = 60
"""How long a claim blocks other cells' signups of a slug (a signup takes well under a second)."""
CLAIM_SKEW_S = 60
"""How far a claim's timestamp may be from the receiving cell's clock (replays are limited to this window)."""
COMMIT_MARGIN_S = 5
"""A signup commits only while its own claim has at least this long to live (the peers' expire later)."""
CLAIM_HEADERS = ("X-Slotstack-Cell", "X-Slotstack-Time", "X-Slotstack-Signature")

log = logging.getLogger("booking.cells")


def claim_signature(key: str, method: str, sender: str, receiver: str, slug: str, at: int) -> str:
    """HMAC-SHA256 over what a claim does (method), who sends it to whom, for which slug and when (unix s).

    The receiver is signed too, so a claim captured on its way to one cell cannot be replayed to another.
    """
    message = f"slotstack-claim/2\n{method}\n{sender}\n{receiver}\n{slug}\n{at}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def check_claim(key: str, method: str, sender: str, receiver: str, slug: str, at: str, signature: str,
                now: float) -> str | None:
    """Why a claim's headers are not acceptable, or None if they are."""
    try:
        when = int(at)
    except ValueError:
        return "X-Slotstack-Time must be unix seconds"
    if abs(now - when) > CLAIM_SKEW_S:
        return f"X-Slotstack-Time is {int(now - when)} s off this cell's clock (more than {CLAIM_SKEW_S} s); check NTP"
    expected = claim_signature(key, method, sender, receiver, slug, when)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad signature: the cells' PEER_KEY differ (Key Vault secret booking-peer-key)"
    return None


def _signed(key: str, method: str, sender: str, receiver: str, slug: str) -> dict[str, str]:
    at = int(time.time())
    return dict(zip(CLAIM_HEADERS, (sender, str(at), claim_signature(key, method, sender, receiver, slug, at)),
                    strict=True))


def http_peer_claim(timeout_s: float, cell: str, key: str, names: Mapping[str, str]) -> PeerClaim:
    """The production claim: a signed POST with a short timeout; only 201 grants and only 409 refuses.

    `names` maps a peer's base URL to its cell name (the receiver the signature names).
    """

    def claim(base_url: str, slug: str) -> bool | None:
        resp = _send("POST", base_url, f"/v1/directory/{slug}/claims", timeout_s,
                     _signed(key, "POST", cell, names[base_url], slug))
        if resp.status_code in (200, 201):
            return True
        if resp.status_code == 409:
            return False
        if resp.status_code in (404, 405):  # no claims there yet (older release, or PEER_KEY unset)
            return None
        # the peer's reason goes to the log, not to the anonymous client of signup
        log.warning("slug claim refused by a peer cell", extra={"fields": {
            "peer": names[base_url], "status": resp.status_code, "detail": resp.text[:200]}})
        raise PeerUnreachable(base_url, f"the claim was answered with HTTP {resp.status_code}")

    return claim


def http_peer_release(timeout_s: float, cell: str, key: str, names: Mapping[str, str]) -> PeerRelease:
    """Withdraw a claim (signed DELETE); any failure is ignored, the claim then simply expires."""

    def release(base_url: str, slug: str) -> None:
        with contextlib.suppress(PeerUnreachable):
            _send("DELETE", base_url, f"/v1/directory/{slug}/claims", timeout_s,
                  _signed(key, "DELETE", cell, names[base_url], slug))

    return release


class PeerUnreachable(Exception):
    """A peer cell could not say whether it homes a slug: no answer, an error status or a malformed body."""

    def __init__(self, cell: str, reason: str) -> None:
        super().__init__(f"cell {cell!r} could not be asked: {reason}")
        self.cell = cell
        self.reason = reason


def _send(method: str, base_url: str, path: str, timeout_s: float,
          headers: Mapping[str, str] | None = None) -> requests.Response:
    """One request to a peer cell; PeerUnreachable (named by the base URL) when it got no answer."""
    try:
        return requests.request(method, base_url + path, headers=headers, timeout=timeout_s)
    except requests.Timeout as exc:
        raise PeerUnreachable(base_url, f"no answer within {timeout_s:g} s") from exc
    except requests.ConnectionError as exc:
        raise PeerUnreachable(base_url, "connection refused or dropped") from exc
    except requests.RequestException as exc:  # the reason reaches signup clients: the type, not internals
        raise PeerUnreachable(base_url, f"request failed ({type(exc).__name__})") from exc


def _unreachable(name: str, exc: Exception) -> PeerUnreachable:
    """Any failure of a lookup or claim (also a custom one) as 'cell `name` could not be asked', never 'no'."""
    return PeerUnreachable(name, exc.reason if isinstance(exc, PeerUnreachable) else f"{type(exc).__name__}: {exc}")


def http_peer_lookup(timeout_s: float) -> PeerLookup:
    """The production peer lookup: a plain HTTP GET with a short timeout.

    Only a 404 means 'not there'; anything else that is not a well-formed 200 raises PeerUnreachable (named by
    the base URL, since the lookup does not know cell names; CellDirectory renames it).
    """

    def lookup(base_url: str, slug: str) -> str | None:
        resp = _send("GET", base_url, f"/v1/directory/{slug}", timeout_s)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise PeerUnreachable(base_url, f"GET /v1/directory/{slug} answered HTTP {resp.status_code}")
        return _cell_of(base_url, slug, resp)

    return lookup


def _cell_of(base_url: str, slug: str, resp: requests.Response) -> str:
    """The `cell` string of a 200 directory answer; PeerUnreachable if the body is not what a cell sends."""
    try:
        body = resp.json()
    except ValueError as exc:  # requests' JSONDecodeError is a ValueError
        raise PeerUnreachable(base_url, f"GET /v1/directory/{slug} answered 200 without JSON") from exc
    cell = body.get("cell") if isinstance(body, dict) else None
    if not isinstance(cell, str):
        raise PeerUnreachable(base_url, f"GET /v1/directory/{slug} answered 200 without a string 'cell'")
    return cell


class CellDirectory:
    """Finds the home cell of slugs this cell does not hold, asking each peer once per cache period.

    Peers answer only from their own directory (never forwarding), so lookups cannot loop.
    """

    def __init__(self, cell: str, cell_urls: Mapping[str, str], lookup: PeerLookup,
                 *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 claim: PeerClaim | None = None, release: PeerRelease | None = None) -> None:
        self.cell = cell
        self.cell_urls = dict(cell_urls)
        self._lookup = lookup
        self.claim = claim
        """Set when the cells share a PEER_KEY: signup then claims its slug in every other cell first."""
        self._release = release
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    @property
    def peers(self) -> list[tuple[str, str]]:
        """(name, base URL) of every other cell of CELL_URLS."""
        return [(name, url) for name, url in self.cell_urls.items() if name != self.cell]

    def url_of(self, cell: str) -> str | None:
        """Base URL of a cell, if CELL_URLS names it."""
        return self.cell_urls.get(cell)

    def remote_home(self, slug: str, *, strict: bool = False) -> str | None:
        """Name of the other cell that homes `slug`, or None if no peer claims it.

        A peer that could not be asked counts as 'not there' for request routing (strict=False: a down peer
        must not break this cell's own tenants). With strict=True (signup: a slug must be unique across cells)
        it raises PeerUnreachable instead, unless another peer claimed the slug. An outcome is cached only when
        it rests on real answers: an outage must not hide a slug for the TTL after the peer is back.
        """
        now = self._clock()
        with self._lock:
            hit = self._cache.get(slug)
            if hit is not None and hit[0] > now:
                return hit[1]
        found, unreachable = self._ask_peers(slug)
        if found is None and unreachable:
            if strict:
                raise unreachable[0]
            return None
        with self._lock:
            self._cache[slug] = (now + self._ttl, found)
        return found

    def _ask_peers(self, slug: str) -> tuple[str | None, list[PeerUnreachable]]:
        """(the peer that claims `slug` or None, the peers that could not be asked before that one claimed it)."""
        unreachable: list[PeerUnreachable] = []
        for name, url in self.peers:
            try:
                answer = self._lookup(url, slug)
            except Exception as exc:
                unreachable.append(_unreachable(name, exc))
                continue
            if answer == name:
                return name, unreachable
            if answer is not None:  # a cell that calls itself otherwise: CELL_URLS is wrong, its 'no' means nothing
                unreachable.append(PeerUnreachable(name, f"answered as cell {answer!r}; CELL_URLS must map "
                                                         f"{name!r} to that cell's own URL"))
        return None, unreachable

    def claim_everywhere(self, slug: str) -> str | None:
        """Claim `slug` in every other cell; the first cell that refused, or None when all granted.

        Raises PeerUnreachable when a cell could not be asked: uniqueness cannot be confirmed without it. A
        cell that does not know claims yet (a rollout) is asked where the slug lives instead, as before claims.
        On a refusal or an unreachable cell, the claims already granted are withdrawn (best effort).
        """
        assert self.claim is not None, "claims need a PEER_KEY"
        granted: list[str] = []
        try:
            for name, url in self.peers:
                answer = self._ask_claim(name, url, slug)
                if answer is False:
                    self.withdraw(slug, granted)
                    return name
                granted.append(url)
        except PeerUnreachable:
            self.withdraw(slug, granted)
            raise
        return None

    def _ask_claim(self, name: str, url: str, slug: str) -> bool:
        assert self.claim is not None
        try:
            answer = self.claim(url, slug)
            if answer is None:
                log.warning("a peer cell does not take slug claims yet; asking where the slug lives instead",
                            extra={"fields": {"peer": name}})
                return self._lookup(url, slug) != name
        except Exception as exc:
            raise _unreachable(name, exc) from exc
        return answer

    def withdraw(self, slug: str, urls: list[str]) -> None:
        """Withdraw this cell's claims at `urls` so another signup need not wait for them to expire."""
        if self._release is not None:
            for url in urls:
                self._release(url, slug)

    def forget(self, slug: str) -> None:
        """Drop a cached answer (after this cell created or received the tenant)."""
        with self._lock:
            self._cache.pop(slug, None)


def make_directory(cell: str, cell_urls: Mapping[str, str], *, peer_key: str = "", timeout_s: float = 2.0,
                   lookup: PeerLookup | None = None) -> CellDirectory:
    """The directory a service or a CLI command uses: HTTP lookups, and signed claims when PEER_KEY is set."""
    if peer_key and len(peer_key) < 32:
        raise ValueError("PEER_KEY must be at least 32 characters and the same in every cell of the environment "
                         "(Key Vault secret booking-peer-key in the cloud)")
    names = {url: name for name, url in cell_urls.items()}
    claim = http_peer_claim(timeout_s, cell, peer_key, names) if peer_key else None
    release = http_peer_release(timeout_s, cell, peer_key, names) if peer_key else None
    return CellDirectory(cell, cell_urls, lookup or http_peer_lookup(timeout_s), claim=claim, release=release)
