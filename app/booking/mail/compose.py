"""The messages: booking confirmation (.ics + cancel link), cancellation (.ics CANCEL), reminder, staff notice,
invitation. Plain text, one language, times in the business's zone with their UTC offset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import icalendar


@dataclass(frozen=True)
class Appointment:
    """What every booking email says about the booking."""

    booking_id: str
    business: str
    service: str
    staff: str
    customer_name: str
    customer_email: str
    start: datetime
    end: datetime
    cancel_url: str


def _when(a: Appointment) -> str:
    return f"{a.start:%A %d %B %Y, %H:%M}-{a.end:%H:%M} (UTC{a.start:%z})"


def _message(sender: str, to: str, subject: str, body: str, now: datetime, domain: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    # fixed when composed, so a retried send carries the same id and mail clients show it once
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body)
    return msg


def _ics(a: Appointment, method: str, sender: str, now: datetime) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//slotstack//booking//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    ev = icalendar.Event()
    ev.add("uid", f"{a.booking_id}@slotstack")
    ev.add("dtstamp", now.astimezone(UTC))
    ev.add("dtstart", a.start.astimezone(UTC))
    ev.add("dtend", a.end.astimezone(UTC))
    ev.add("summary", f"{a.service} at {a.business}")
    ev.add("organizer", f"mailto:{sender.split('<')[-1].rstrip('>')}")
    ev.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    ev.add("sequence", 1 if method == "CANCEL" else 0)
    cal.add_component(ev)
    return bytes(cal.to_ical())


def confirmation(a: Appointment, sender: str, now: datetime, domain: str) -> EmailMessage:
    """To the customer: the booking, an .ics for their calendar, and the link that cancels it."""
    msg = _message(sender, a.customer_email, f"Booked: {a.service} at {a.business}, {a.start:%d %B %H:%M}",
                   f"Hello {a.customer_name},\n\nyour booking is confirmed:\n\n  {a.service} with {a.staff}\n"
                   f"  {_when(a)}\n\nTo cancel, open {a.cancel_url}\n\n{a.business}\n", now, domain)
    msg.add_attachment(_ics(a, "REQUEST", sender, now), maintype="text", subtype="calendar",
                       filename="booking.ics", params={"method": "REQUEST"})
    return msg


def cancellation(a: Appointment, sender: str, now: datetime, domain: str) -> EmailMessage:
    """To the customer: the booking is cancelled (the .ics removes it from their calendar)."""
    msg = _message(sender, a.customer_email, f"Cancelled: {a.service} at {a.business}, {a.start:%d %B %H:%M}",
                   f"Hello {a.customer_name},\n\nyour booking has been cancelled:\n\n  {a.service} with {a.staff}\n"
                   f"  {_when(a)}\n\n{a.business}\n", now, domain)
    msg.add_attachment(_ics(a, "CANCEL", sender, now), maintype="text", subtype="calendar",
                       filename="cancel.ics", params={"method": "CANCEL"})
    return msg


def reminder(a: Appointment, sender: str, now: datetime, domain: str) -> EmailMessage:
    """To the customer, before the appointment."""
    return _message(sender, a.customer_email, f"Reminder: {a.service} at {a.business}, {a.start:%d %B %H:%M}",
                    f"Hello {a.customer_name},\n\na reminder of your appointment:\n\n  {a.service} with {a.staff}\n"
                    f"  {_when(a)}\n\nCannot make it? Cancel at {a.cancel_url}\n\n{a.business}\n", now, domain)


def staff_notice(a: Appointment, event: str, to: str, sender: str, now: datetime, domain: str) -> EmailMessage:
    """To the staff member (or the owners): a booking was made or cancelled."""
    return _message(sender, to, f"{event.capitalize()} booking: {a.service}, {a.start:%d %B %H:%M}",
                    f"{event.capitalize()} booking at {a.business}:\n\n  {a.service} with {a.staff}\n  {_when(a)}\n"
                    f"  customer: {a.customer_name} <{a.customer_email}>\n", now, domain)


def invitation(business: str, to: str, link: str, role: str, sender: str, now: datetime,
               domain: str) -> EmailMessage:
    """To an invited team member: the one-time link that sets their password (valid 7 days)."""
    return _message(sender, to, f"You are invited to {business} on slotstack",
                    f"Hello,\n\nyou have been invited to {business} as {role}.\n\nSet your password and sign in "
                    f"within 7 days: {link}\n\nIf you did not expect this, ignore this email.\n", now, domain)
