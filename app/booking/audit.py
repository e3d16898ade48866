"""The per-tenant audit log of security-relevant actions: who, what, when, from where; never payloads."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from booking.db import Conn


def address_of(request: Request | None) -> str:
    """The client address (behind the gateway: the one it appended to X-Forwarded-For, see clientaddr.py)."""
    if request is None or request.client is None:
        return ""
    return request.client.host


def record(conn: Conn, tenant_id: uuid.UUID | str, actor: str, action: str, target: str = "",
           address: str = "") -> None:
    """Append one event inside the caller's tenant transaction (so it commits or rolls back with the action).

    `actor` is `user:<id>`, `client:<id>` or `system:<job>`; `target` an object id, never a name or email.
    """
    conn.execute("INSERT INTO audit_events (tenant_id, actor, action, target, address) VALUES (%s, %s, %s, %s, %s)",
                 (tenant_id, actor, action, target, address))


def events(conn: Conn, limit: int = 500) -> list[dict[str, Any]]:
    """The newest events of the transaction's tenant."""
    rows = conn.execute("SELECT at, actor, action, target, address FROM audit_events ORDER BY id DESC LIMIT %s",
                        (limit,)).fetchall()
    return [{"at": r["at"].isoformat(), "actor": r["actor"], "action": r["action"], "target": r["target"],
             "address": r["address"]} for r in rows]
