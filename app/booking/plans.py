"""Changing a tenant's plan: an operator's decision (billing), never the tenant's own API call."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg_pool import ConnectionPool

from booking.audit import record
from booking.db import Conn, tenant_tx
from booking.errors import ApiError
from booking.integrations import disconnect
from booking.providers import Revoker
from booking.secrets.keystore import KeyStore
from booking.tenants import PLANS, tenant_json


def change_plan(pool: ConnectionPool[Conn], keys: KeyStore | None, revoke: Revoker, tenant_id: uuid.UUID,
                plan: str, *, actor: str) -> dict[str, Any]:
    """Set the plan; moving to `free` disconnects every integration (deleted, revoked, audited)."""
    if plan not in PLANS:
        raise ApiError(422, f"plan={plan!r} is not a plan; allowed: {list(PLANS)}")
    with tenant_tx(pool, tenant_id) as conn:
        row = conn.execute("UPDATE tenants SET plan = %s RETURNING *", (plan,)).fetchone()
        if row is None:
            raise ApiError(404, f"tenant {tenant_id} not found in this cell")
        record(conn, tenant_id, actor, f"plan.changed:{plan}", "", "")
    results = disconnect(pool, keys, revoke, tenant_id, actor=actor, address="", reason="downgrade") \
        if plan == "free" else []
    return {"tenant": tenant_json(row), "disconnected": results}
