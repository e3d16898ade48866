"""Demo data for a new tenant: one staff member, weekday hours, one service (used by the local stack)."""

from __future__ import annotations

from typing import Any

from booking.db import tenant_tx


def add_demo(pool: Any, tenant_id: str, timezone: str) -> dict[str, str]:
    """Add staff 'Demo Staff' (Mon-Fri 09:00-17:00 in `timezone`) and a 30-minute 'Consultation'."""
    with tenant_tx(pool, tenant_id) as conn:
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
