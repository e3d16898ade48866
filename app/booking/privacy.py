"""Export and erasure of one end customer, erasure of a whole tenant (crypto-shredding), retention."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from booking.audit import record
from booking.db import Conn, global_tx, tenant_tx
from booking.errors import ApiError, not_found
from booking.images import ImageStore
from booking.integrations import disconnect
from booking.mail.outbox import forget_customer
from booking.providers import Revoker
from booking.secrets.keystore import KeyStore

AUDIT_KEPT_DAYS = 400  # the audit log outlives the bookings it describes (who erased what, and when)


def customer_export(conn: Conn, customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything the tenant holds about one customer: contact details, bookings and their answers."""
    row = conn.execute("SELECT * FROM customers WHERE id = %s", (customer_id,)).fetchone()
    if row is None:
        raise not_found("customer", customer_id)
    bookings = conn.execute("SELECT b.*, s.name AS service FROM bookings b JOIN services s ON s.id = b.service_id "
                            "WHERE b.customer_id = %s ORDER BY b.starts_at", (customer_id,)).fetchall()
    return {"customer": {"id": str(row["id"]), "name": row["name"], "email": row["email"], "phone": row["phone"],
                         "created_at": row["created_at"].isoformat()},
            "bookings": [{"id": str(b["id"]), "service": b["service"], "status": b["status"],
                          "start": b["starts_at"].isoformat(), "end": b["ends_at"].isoformat(),
                          "answers": b["answers"], "created_at": b["created_at"].isoformat()} for b in bookings]}


def customer_erase(conn: Conn, customer_id: uuid.UUID) -> int:
    """Delete a customer and their bookings (freeing those slots); returns the number of bookings erased."""
    n = conn.execute("SELECT count(*) AS n FROM bookings WHERE customer_id = %s", (customer_id,)).fetchone()
    forget_customer(conn, customer_id)
    if conn.execute("DELETE FROM customers WHERE id = %s", (customer_id,)).rowcount == 0:
        raise not_found("customer", customer_id)
    return int(n["n"]) if n else 0


def erase_tenant(pool: ConnectionPool[Conn], keys: KeyStore | None, revoke: Revoker, tenant_id: uuid.UUID, *,
                 actor: str, address: str = "", moved_to: str | None = None,
                 images: ImageStore | None = None) -> dict[str, Any]:
    """Erase a tenant in this cell: integrations revoked, every row deleted, its data key shredded.

    Shredding the data key is what reaches old backups: their integration secrets were sealed with it and
    it lived only in the key store, never in the database. With `moved_to`, the directory keeps the slug
    pointing at the new home cell (so this cell answers 421); otherwise the slug is released.
    """
    disconnect(pool, keys, revoke, tenant_id, actor=actor, address=address,
               reason="moved" if moved_to else "erased")
    with tenant_tx(pool, tenant_id) as conn:
        tenant = conn.execute("SELECT slug FROM tenants").fetchone()
        if tenant is None:
            raise ApiError(404, f"tenant {tenant_id} has no data in this cell")
        image_keys = [r["key"] for r in conn.execute("SELECT key FROM images").fetchall()]
        conn.execute("DELETE FROM tenants")  # every tenant table cascades from here, the audit log included
        if moved_to:
            conn.execute("UPDATE tenant_directory SET home_cell = %s, updated_at = now() WHERE tenant_id = %s",
                         (moved_to, tenant_id))
        else:
            conn.execute("DELETE FROM tenant_directory WHERE tenant_id = %s", (tenant_id,))
    shredded = keys.shred(tenant_id) if keys is not None else False
    if images is not None:
        for key in image_keys:
            images.delete(key)
    return {"tenant_id": str(tenant_id), "slug": tenant["slug"], "data_key_shredded": shredded,
            "home_cell": moved_to}


def apply_retention(pool: ConnectionPool[Conn], cell: str, now: datetime) -> dict[str, dict[str, int]]:
    """Erase, for every tenant of this cell with a retention setting, bookings that ended longer ago than
    that and customers left without bookings; audit-log entries after AUDIT_KEPT_DAYS. Idempotent."""
    with global_tx(pool) as conn:
        tenants = [(r["tenant_id"], r["slug"]) for r in conn.execute(
            "SELECT tenant_id, slug FROM tenant_directory WHERE home_cell = %s ORDER BY slug", (cell,)).fetchall()]
    done: dict[str, dict[str, int]] = {}
    for tenant_id, slug in tenants:
        with tenant_tx(pool, tenant_id) as conn:
            row = conn.execute("SELECT retention_days FROM tenants").fetchone()
            if row is None or row["retention_days"] is None:
                continue
            cutoff = now - timedelta(days=row["retention_days"])
            bookings = conn.execute("DELETE FROM bookings WHERE ends_at < %s", (cutoff,)).rowcount
            # finished messages older than the cutoff (a failed one still holds its text)
            conn.execute("DELETE FROM outbox WHERE created_at < %s AND status IN ('sent', 'cancelled', 'failed')",
                         (cutoff,))
            # a customer exists only through bookings (made in the same transaction): none left, nothing to keep
            customers = conn.execute("DELETE FROM customers c WHERE NOT EXISTS "
                                     "(SELECT 1 FROM bookings b WHERE b.customer_id = c.id)").rowcount
            audit = conn.execute("DELETE FROM audit_events WHERE at < %s",
                                 (now - timedelta(days=max(AUDIT_KEPT_DAYS, row["retention_days"])),)).rowcount
            if bookings or customers:
                record(conn, tenant_id, "system:retention", "retention.erased",
                       f"bookings={bookings} customers={customers}")
            done[slug] = {"bookings": bookings, "customers": customers, "audit_events": audit}
    return done
