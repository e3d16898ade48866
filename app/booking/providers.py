"""Third-party providers whose OAuth refresh tokens a tenant connects, and how to revoke a token at each."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import requests

# RFC 7009 token revocation endpoints. Microsoft's identity platform has none: its refresh tokens are
# deleted here and lapse at the provider (None = nothing to call).
REVOKE_URLS: dict[str, str | None] = {
    "google": "https://oauth2.googleapis.com/revoke",
    "microsoft": None,
    "zoom": "https://zoom.us/oauth/revoke",
}
PROVIDERS = tuple(REVOKE_URLS)

Revoker = Callable[[str, str], str]
"""(provider, refresh token) -> outcome (`revoked` or `no_endpoint`); raises RevocationFailed."""


class RevocationFailed(Exception):
    """The provider did not confirm the revocation; the message names provider and status."""


def http_revoker(urls: Mapping[str, str | None] | None = None, timeout_s: float = 10.0) -> Revoker:
    """Revoke by POSTing `token` and `token_type_hint=refresh_token` (RFC 7009) to the provider's endpoint."""
    endpoints = {**REVOKE_URLS, **(urls or {})}

    def revoke(provider: str, token: str) -> str:
        url = endpoints.get(provider)
        if url is None:
            return "no_endpoint"
        try:
            r = requests.post(url, data={"token": token, "token_type_hint": "refresh_token"}, timeout=timeout_s,
                              allow_redirects=False)
        except requests.RequestException as exc:
            raise RevocationFailed(f"{provider}: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise RevocationFailed(f"{provider}: HTTP {r.status_code}")
        return "revoked"

    return revoke
