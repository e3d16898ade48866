"""What a booking or an invitation sends, enqueued in the transaction that makes it happen."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from booking.bookings import cancel_token
from booking.db import Conn
from booking.mail import compose
from booking.mail.outbox import cancel_pending, enqueue
from booking.settings import Settings

BOOKING_SQL = """
SELECT b.id, b.tenant_id, b.starts_at, b.ends_at, c.name AS customer_name, c.email AS customer_email,
       s.name AS service, st.name AS staff, b.staff_id, t.name AS business, t.slug, t.timezone, t.reminder_minutes
FROM bookings b JOIN customers c ON c.id = b.customer_id JOIN services s ON s.id = b.service_id
JOIN staff st ON st.id = b.staff_id JOIN tenants t ON t.id = b.tenant_id WHERE b.id = %s
"""


def _appointment(conn: Conn, settings: Settings, booking_id: uuid.UUID) -> tuple[compose.Appointment, dict]:
    row = conn.execute(BOOKING_SQL, (booking_id,)).fetchone()
    assert row is not None
    zone = ZoneInfo(row["timezone"])
    token = cancel_token(settings.secret_key, row["tenant_id"], row["id"])
    return compose.Appointment(
        booking_id=str(row["id"]), business=row["business"], service=row["service"], staff=row["staff"],
        customer_name=row["customer_name"], customer_email=row["customer_email"],
        start=row["starts_at"].astimezone(zone), end=row["ends_at"].astimezone(zone),
        cancel_url=f"{settings.base_url}/{row['slug']}/bookings/{row['id']}/cancel?token={token}"), row


def _staff_recipients(conn: Conn, staff_id: uuid.UUID) -> list[str]:
    """The staff member's own account, or else the business's owners."""
    rows = conn.execute("SELECT email FROM users WHERE password_hash IS NOT NULL AND (staff_id = %s OR "
                        "(role = 'owner' AND NOT EXISTS (SELECT 1 FROM users u2 WHERE u2.staff_id = %s AND "
                        "u2.password_hash IS NOT NULL))) ORDER BY email", (staff_id, staff_id)).fetchall()
    return [r["email"] for r in rows]


def booking_created(conn: Conn, settings: Settings, booking_id: uuid.UUID, now: datetime,
                    event: str = "new") -> None:
    """Confirmation (with .ics and cancel link) and reminder to the customer; notice to the staff."""
    a, row = _appointment(conn, settings, booking_id)
    sender, domain = settings.mail_from, settings.mail_domain
    cancel_pending(conn, booking_id, "reminder")  # a moved booking's old reminder
    enqueue(conn, "confirmation", compose.confirmation(a, sender, now, domain), now, booking_id)
    if row["reminder_minutes"]:
        at = row["starts_at"] - timedelta(minutes=row["reminder_minutes"])
        if at > now:
            enqueue(conn, "reminder", compose.reminder(a, sender, now, domain), at, booking_id,
                    stale_after=row["starts_at"])
    for to in _staff_recipients(conn, row["staff_id"]):
        enqueue(conn, "staff_notice", compose.staff_notice(a, event, to, sender, now, domain), now, booking_id)


def booking_cancelled(conn: Conn, settings: Settings, booking_id: uuid.UUID, now: datetime) -> None:
    """Cancellation to the customer, notice to the staff; the pending reminder is withdrawn."""
    a, row = _appointment(conn, settings, booking_id)
    sender, domain = settings.mail_from, settings.mail_domain
    cancel_pending(conn, booking_id, "reminder")
    enqueue(conn, "cancellation", compose.cancellation(a, sender, now, domain), now, booking_id)
    for to in _staff_recipients(conn, row["staff_id"]):
        enqueue(conn, "staff_notice", compose.staff_notice(a, "cancelled", to, sender, now, domain), now, booking_id)


def invitation_sent(conn: Conn, settings: Settings, email: str, role: str, link: str, now: datetime) -> None:
    """The invitation with its one-time link (the token is in the outbox only until the message is sent)."""
    tenant = conn.execute("SELECT name FROM tenants").fetchone()
    assert tenant is not None
    enqueue(conn, "invitation", compose.invitation(tenant["name"], email, link, role, settings.mail_from, now,
                                                   settings.mail_domain), now)
