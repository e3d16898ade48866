"""Demo data: one staff member, weekday hours, one service; and each cell's `demo-<cell>` tenant.

The demo tenant is what a new user clicks through first and what the availability tests fetch
(`/demo-<cell>` must show "Consultation", infra/observability/availability.py), so a cloud cell keeps it
in place by itself instead of waiting for an operator.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from booking.cells import CellDirectory
from booking.db import global_tx, tenant_tx
from booking.errors import ApiError

log = logging.getLogger("booking.commands.demo")
DEMO_ZONES = {"us": "America/New_York", "eu": "Europe/Berlin", "au": "Australia/Sydney"}


def add_demo(pool: Any, tenant_id: str, timezone: str) -> dict[str, str]:
    """Add staff 'Demo Staff' (Mon-Fri 09:00-17:00 in `timezone`) and a 30-minute 'Consultation'."""
    with tenant_tx(pool, tenant_id) as conn:
        return add_demo_rows(conn, timezone)


def add_demo_rows(conn: Any, timezone: str) -> dict[str, str]:
    """add_demo in the caller's tenant transaction."""
    staff = conn.execute("INSERT INTO staff (tenant_id, name, timezone) VALUES "
                         "(current_setting('app.tenant_id')::uuid, 'Demo Staff', %s) RETURNING id",
                         (timezone,)).fetchone()
    assert staff is not None
    for weekday in range(5):
        conn.execute("INSERT INTO availability_rules (tenant_id, staff_id, weekday, start_minute, end_minute) "
                     "VALUES (current_setting('app.tenant_id')::uuid, %s, %s, 540, 1020)", (staff["id"], weekday))
    service = conn.execute(
        "INSERT INTO services (tenant_id, name, duration_minutes, slot_interval_minutes, horizon_days) VALUES "
        "(current_setting('app.tenant_id')::uuid, 'Consultation', 30, 30, 60) RETURNING id").fetchone()
    assert service is not None
    conn.execute("INSERT INTO service_staff (tenant_id, service_id, staff_id) VALUES "
                 "(current_setting('app.tenant_id')::uuid, %s, %s)", (service["id"], staff["id"]))
    return {"staff_id": str(staff["id"]), "service_id": str(service["id"])}


def ensure_demo_tenant(pool: Any, cells: CellDirectory, cell: str) -> str:
    """Make `demo-<cell>` exist here with its demo service; 'created', 'completed' or 'exists'.

    Raises ApiError when it cannot be created now (503: another cell cannot be asked whether the slug is
    free; 409: a concurrent start created it first): try again later.
    """
    from booking.tenants import NewTenant, create_tenant

    slug = f"demo-{cell}"
    zone = DEMO_ZONES.get(cell, "UTC")
    with global_tx(pool) as conn:
        row = conn.execute("SELECT tenant_id, home_cell FROM tenant_directory WHERE slug = %s", (slug,)).fetchone()
    if row is not None and row["home_cell"] != cell:
        return "exists"  # moved elsewhere on purpose: not ours to recreate
    outcome = "exists"
    if row is None:
        new = NewTenant(slug=slug, name=f"Demo Studio ({cell.upper()})", residency=cell, timezone=zone,
                        owner_email=f"demo@{slug}.invalid", owner_password=secrets.token_urlsafe(32))
        tenant, _token = create_tenant(pool, cells, cell, new, None)  # nobody signs in to it: no token
        tenant_id, outcome = tenant["id"], "created"
    else:
        tenant_id = str(row["tenant_id"])
    with tenant_tx(pool, tenant_id) as conn:
        # every VM of both regions runs this at start: one at a time, or two could add the data twice
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"demo-tenant:{slug}",))
        if conn.execute("SELECT 1 FROM services LIMIT 1").fetchone() is None:
            add_demo_rows(conn, zone)  # also heals a start that died between the tenant and its data
            outcome = "created" if outcome == "created" else "completed"
    return outcome


def keep_demo_tenant(make_pool: Callable[[], Any], cells: CellDirectory, cell: str, *, attempts: int = 120,
                     interval_s: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> threading.Thread:
    """Ensure the demo tenant in the background, retrying while other cells cannot be asked (first deploy)."""

    def run() -> None:
        for attempt in range(attempts):
            try:
                pool = make_pool()
                try:
                    outcome = ensure_demo_tenant(pool, cells, cell)
                finally:
                    pool.close()
            except Exception as exc:  # whatever went wrong (database, peers), the next attempt may succeed
                detail = exc.detail if isinstance(exc, ApiError) else type(exc).__name__
                log.warning("demo tenant not ready yet", extra={"fields": {
                    "slug": f"demo-{cell}", "detail": detail, "attempt": attempt + 1}})
                sleep(interval_s)
                continue
            log.info("demo tenant in place", extra={"fields": {"slug": f"demo-{cell}", "outcome": outcome}})
            return
        log.error("demo tenant could not be created; the booking-page availability test will fail until "
                  "`booking create-tenant --demo` is run", extra={"fields": {"slug": f"demo-{cell}"}})

    thread = threading.Thread(target=run, name="demo-tenant", daemon=True)
    thread.start()
    return thread
