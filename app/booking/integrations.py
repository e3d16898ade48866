"""Connecting and disconnecting a tenant's integrations; a downgrade or cancellation disconnects them all."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from psycopg_pool import ConnectionPool

from booking.audit import record
from booking.db import Conn, tenant_tx
from booking.providers import RevocationFailed, Revoker
from booking.secrets.keystore import KeyStore
from booking.secrets.sealing import Unreadable, seal, unseal


def connect(conn: Conn, keys: KeyStore, tenant_id: uuid.UUID, provider: str, refresh_token: str) -> str:
    """Store an integration's refresh token, sealed; returns the integration id."""
    integration_id = uuid.uuid4()
    conn.execute("INSERT INTO integrations (tenant_id, id, provider, refresh_token) VALUES (%s, %s, %s, %s)",
                 (tenant_id, integration_id, provider, seal(keys, tenant_id, integration_id, provider, refresh_token)))
    return str(integration_id)


def disconnect(pool: ConnectionPool[Conn], keys: KeyStore | None, revoke: Revoker, tenant_id: uuid.UUID, *, actor: str,
               address: str, reason: str, only: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Delete the tenant's integrations (all, or `only` one), then ask each provider to revoke the token.

    The tokens are deleted first, in one transaction with the audit record: whatever a provider answers,
    the service no longer holds them. Each provider's answer is audited afterwards.
    """
    with tenant_tx(pool, tenant_id) as conn:
        rows = conn.execute("DELETE FROM integrations WHERE (%s::uuid IS NULL OR id = %s) "
                            "RETURNING id, provider, refresh_token", (only, only)).fetchall()
        taken = []
        for row in rows:
            token: str | None = None  # unreadable (or no key store): nothing to revoke with, deleted all the same
            if keys is not None:
                with contextlib.suppress(Unreadable):
                    token = unseal(keys, tenant_id, row["id"], row["provider"], bytes(row["refresh_token"]))
            taken.append((str(row["id"]), row["provider"], token))
        record(conn, tenant_id, actor, f"integrations.disconnected:{reason}", f"{len(rows)}", address)
    results = []
    for integration_id, provider, token in taken:
        try:
            outcome = "unreadable" if token is None else revoke(provider, token)
        except RevocationFailed as exc:
            outcome = f"failed: {exc}"
        results.append({"id": integration_id, "provider": provider, "revocation": outcome})
    if results:
        with tenant_tx(pool, tenant_id) as conn:
            for r in results:
                record(conn, tenant_id, actor, f"integration.revocation:{r['revocation'].split(':')[0]}", r["id"],
                       address)
    return results
