"""Issue 16: the emails customers and staff expect, through the transactional outbox, to a real SMTP server.

The SMTP server is aiosmtpd on 127.0.0.1; the worker's passes are run by the test (`run_once`), so nothing
depends on timing, and the clock is the service's injected one.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import icalendar
import psycopg
import pytest
from aiosmtpd.controller import Controller
from booking.mail.smtp import smtp_sender
from booking.provision import DatabaseUrls

from infra.local.lifecycle.ports import free_port
from tests.app.conftest import Business, Clock, Service, book, make_business, start_service


class Inbox:
    """aiosmtpd handler that keeps every message it accepts; `refuse` makes it answer 451 (try again later)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 mailbox busy, try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls, inbox: tuple[Inbox, int]) -> Iterator[Service]:
    s = start_service(db, clock=Clock(), send_mail=smtp_sender("127.0.0.1", inbox[1], timeout_s=5),
                      mail_from="Slotstack <bookings@us.staging.example>")
    yield s
    s.server.stop()


def deliver(svc: Service) -> int:
    """One pass of the service's outbox worker (the one its lifespan runs every 2 s)."""
    return int(svc.app.state.outbox.run_once())


def ics_of(msg: EmailMessage) -> icalendar.Calendar:
    [part] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = icalendar.Calendar.from_ical(part.get_content())
    assert isinstance(cal, icalendar.Calendar)
    return cal


@pytest.fixture(scope="module")
def shop(svc: Service) -> Business:
    biz = make_business(svc, "mail-clinic")
    deliver(svc)
    return biz


def test_a_booking_sends_the_customer_a_confirmation_with_ics_and_cancel_link_and_tells_the_staff(
        svc: Service, shop: Business, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    r = book(svc, shop, "2026-01-07T10:00:00+01:00", email="casey@customer.example")
    assert r.status_code == 201, r.text
    assert box.to("casey@customer.example") == [], "nothing leaves before the worker sends it"
    assert deliver(svc) == 2  # the confirmation and the owner's notice; the reminder waits for its time
    [confirmation] = box.to("casey@customer.example")
    assert confirmation["From"] == "Slotstack <bookings@us.staging.example>"
    assert confirmation["Message-ID"].endswith("@us.staging.example>")
    assert confirmation["Subject"] == "Booked: Consultation at Mail-Clinic, 07 January 10:00"
    body = confirmation.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Wednesday 07 January 2026, 10:00-10:30 (UTC+0100)" in text
    assert r.json()["cancel_url"] in text
    event = ics_of(confirmation).walk("VEVENT")[0]
    assert event["UID"] == f"{r.json()['id']}@slotstack"
    assert event.decoded("DTSTART").isoformat() == "2026-01-07T09:00:00+00:00"
    [notice] = box.to("owner@mail-clinic.example")
    assert notice["Subject"] == "New booking: Consultation, 07 January 10:00"
    assert "casey@customer.example" in notice.get_content()
    assert deliver(svc) == 0, "a message is sent once"


def test_the_reminder_goes_out_at_the_tenant_s_lead_time_and_a_cancellation_withdraws_it(
        svc: Service, shop: Business, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    box.messages.clear()
    r = book(svc, shop, "2026-01-08T11:00:00+01:00", email="rem@customer.example")
    assert r.status_code == 201
    deliver(svc)
    keep = book(svc, shop, "2026-01-08T14:00:00+01:00", email="kept@customer.example")
    deliver(svc)
    svc.clock.now = svc.clock.now.replace(day=7, hour=10, minute=1)  # 24 h before 11:00 CET
    assert deliver(svc) == 1
    [reminder] = [m for m in box.to("rem@customer.example") if m["Subject"].startswith("Reminder")]
    assert "Cancel at" in reminder.get_content()
    token = r.json()["cancel_url"].split("token=")[1]
    for _ in range(2):  # cancelling twice sends nothing more
        cancel = svc.call("POST", f"/v1/public/{shop.slug}/bookings/{r.json()['id']}/cancel",
                          params={"token": token})
        assert cancel.status_code == 200, cancel.text
    assert deliver(svc) == 2  # the customer's cancellation and the owner's notice
    [cancelled] = [m for m in box.to("rem@customer.example") if m["Subject"].startswith("Cancelled")]
    assert ics_of(cancelled)["METHOD"] == "CANCEL"
    kept_id = keep.json()["id"]
    assert svc.call("POST", f"/v1/bookings/{kept_id}/cancel", shop.token).status_code == 200
    svc.clock.now = svc.clock.now.replace(hour=13, minute=1)
    deliver(svc)
    assert not [m for m in box.to("kept@customer.example") if m["Subject"].startswith("Reminder")], \
        "the cancelled booking's reminder was withdrawn"


def test_a_mail_server_that_refuses_gets_the_message_later_never_lost_never_twice(
        svc: Service, shop: Business, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    box.messages.clear()
    box.refuse = True
    try:
        assert book(svc, shop, "2026-01-09T10:00:00+01:00", email="retry@customer.example").status_code == 201
        assert deliver(svc) == 0
    finally:
        box.refuse = False
    assert deliver(svc) == 0, "the retry waits its back-off"
    svc.clock.now += timedelta(minutes=3)
    assert deliver(svc) == 2
    assert len(box.to("retry@customer.example")) == 1
    svc.clock.now += timedelta(hours=1)
    assert deliver(svc) == 0


def test_an_invitation_is_emailed_with_its_link(svc: Service, shop: Business, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    r = svc.call("POST", "/v1/users", shop.token, json={"email": "new@team.example", "role": "owner"})
    assert r.status_code == 201, r.text
    assert deliver(svc) == 1
    [invite] = box.to("new@team.example")
    assert invite["Subject"] == "You are invited to Mail-Clinic on slotstack"
    assert r.json()["invite_url"] in invite.get_content()


def test_sent_messages_leave_no_personal_data_in_the_outbox(svc: Service, shop: Business) -> None:
    with psycopg.connect(svc.db.owner_url, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (shop.tenant_id,))
        rows = conn.execute("SELECT status, message IS NULL FROM outbox").fetchall()
    assert rows
    assert all(status != "sent" or gone for status, gone in rows)
