"""The public booking page: service -> day -> slot -> details -> confirmation. Plain HTML forms, no JS."""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from booking.availability import zone
from booking.bookings import Conflict, check_cancel_token
from booking.context import ctx_of
from booking.errors import ApiError
from booking.pages.locale import long_date, months, pick_locale, short_time
from booking.questions import list_questions
from booking.ratelimit import limit_anonymous
from booking.reservations import BookingIn, booking_json, cancel_row, create_booking
from booking.search import compute_slots

# anonymous pages: every request costs the caller's address a token (booking.ratelimit)
router = APIRouter(include_in_schema=False, dependencies=[Depends(limit_anonymous)])
env = Environment(loader=PackageLoader("booking", "templates"), autoescape=select_autoescape(["html"]))
DAYS_SHOWN = 14
# Zones offered in the page's time-zone picker: the canonical Area/City names.
ZONES = sorted(z for z in available_timezones()
               if "/" in z and z.split("/")[0] in {"Africa", "America", "Antarctica", "Asia", "Atlantic",
                                                  "Australia", "Europe", "Indian", "Pacific"})


def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """Render a template of the booking page."""
    return HTMLResponse(env.get_template(name).render(**values), status_code=status)


def logo_url(ctx: Any, conn: Any) -> str | None:
    """Where the browser fetches the tenant's newest ready logo, if it has one and the cell stores images."""
    if ctx.images is None:
        return None
    row = conn.execute("SELECT key FROM images WHERE kind = 'logo' AND status = 'ready' ORDER BY created_at DESC "
                       "LIMIT 1").fetchone()
    return None if row is None else str(ctx.images.url(row["key"]))


def _tz(request: Request, default: str) -> Any:
    name = request.query_params.get("tz") or default
    try:
        return zone(name, "tz")
    except ApiError:
        return zone(default, "tz")


@router.get("/{slug}", response_class=HTMLResponse)
def services_page(slug: str, request: Request) -> HTMLResponse:
    """Step 1: pick a service."""
    ctx = ctx_of(request)
    with ctx.public(request, slug) as (conn, _):
        tenant = conn.execute("SELECT name, timezone FROM tenants").fetchone()
        services = conn.execute("SELECT id, name, duration_minutes FROM services ORDER BY name").fetchall()
        logo = logo_url(ctx, conn)
    assert tenant is not None
    tz = _tz(request, tenant["timezone"])
    locale = pick_locale(request)
    return render("services.html", tenant=tenant, slug=slug, services=services, tz=tz.key, zones=ZONES,
                  logo=logo, lang=locale.language, lang_tag=str(locale))


@router.get("/{slug}/services/{service_id}", response_class=HTMLResponse)
def days_page(slug: str, service_id: uuid.UUID, request: Request,
              day: Annotated[date | None, Query()] = None) -> HTMLResponse:
    """Steps 2 and 3: pick a day in the month calendar (days with free slots are links), then a slot on it."""
    ctx = ctx_of(request)
    locale = pick_locale(request)
    with ctx.public(request, slug) as (conn, _):
        tenant = conn.execute("SELECT name, timezone FROM tenants").fetchone()
        assert tenant is not None
        tz = _tz(request, tenant["timezone"])
        service = conn.execute("SELECT id, name, duration_minutes FROM services WHERE id = %s",
                               (service_id,)).fetchone()
        if service is None:
            return render("message.html", 404, title="Not found", message="This service does not exist.")
        first = ctx.clock().astimezone(tz).date()
        last = first + timedelta(days=DAYS_SHOWN - 1)
        slots = compute_slots(conn, ctx, service_id, first, last, tz, None, clip=True).slots
        logo = logo_url(ctx, conn)
    by_day: OrderedDict[date, list[dict[str, str]]] = OrderedDict()
    for s in slots:
        by_day.setdefault(date.fromisoformat(s["start"][:10]), []).append(s)
    base = f"/{slug}/services/{service_id}?" + urlencode({"tz": tz.key, "lang": str(locale)})
    links = []
    for s in by_day.get(day, []) if day else []:
        query = urlencode({"service_id": str(service_id), "staff_id": s["staff_id"], "start": s["start"],
                           "tz": tz.key, "lang": str(locale)})
        links.append({"label": short_time(datetime.fromisoformat(s["start"]), locale),
                      "href": f"/{slug}/book?{query}"})
    calendar = months(first, last, {d: f"{base}&day={d.isoformat()}" for d in by_day}, day, locale)
    return render("days.html", tenant=tenant, slug=slug, service=service, tz=tz.key, calendar=calendar,
                  any_days=bool(by_day), chosen=long_date(day, locale) if day else None, slots=links,
                  chosen_day=day.isoformat() if day else None, zones=ZONES, logo=logo, lang=locale.language,
                  lang_tag=str(locale))


def _details(request: Request, slug: str, status: int = 200, error: str | None = None,
             values: dict[str, str] | None = None) -> HTMLResponse:
    ctx = ctx_of(request)
    params = request.query_params if values is None else values
    locale = pick_locale(request, params.get("lang"))
    with ctx.public(request, slug) as (conn, _):
        tenant = conn.execute("SELECT name, timezone FROM tenants").fetchone()
        questions = list_questions(conn)
    start = params.get("start", "")
    try:
        at = datetime.fromisoformat(start)
        when = f"{long_date(at.date(), locale)}, {short_time(at, locale)}"
    except ValueError:
        return render("message.html", 422, title="Pick a time", message="Choose a time from the list first.")
    hidden = {k: params.get(k, "") for k in ("service_id", "staff_id", "start", "tz", "lang")}
    # one key per rendered form: a double-click or a resubmitted form books once, not twice
    hidden["idempotency_key"] = params.get("idempotency_key") or secrets.token_urlsafe(18)
    return render("details.html", status, tenant=tenant, slug=slug, questions=questions, error=error,
                  hidden=hidden, values=values or {}, when=when, tz=params.get("tz", ""), lang=locale.language)


@router.get("/{slug}/book", response_class=HTMLResponse)
def details_page(slug: str, request: Request) -> HTMLResponse:
    """Step 4: the customer's details and the business's questions."""
    return _details(request, slug)


@router.post("/{slug}/book", response_class=HTMLResponse)
async def book_form(slug: str, request: Request) -> HTMLResponse:
    """Step 5: book, then show the confirmation with a cancel link (or the form again with the reason)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_book, request, slug, form)


def _book(request: Request, slug: str, form: dict[str, str]) -> HTMLResponse:
    ctx = ctx_of(request)
    answers = {k.removeprefix("q_"): v for k, v in form.items() if k.startswith("q_") and v.strip()}
    try:
        body = BookingIn.model_validate({
            "service_id": form.get("service_id"), "staff_id": form.get("staff_id"), "start": form.get("start"),
            "customer": {"name": form.get("name", ""), "email": form.get("email", ""),
                         "phone": form.get("phone") or None}, "answers": answers})
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return _details(request, slug, 422, f"Please check: {fields}.", form)
    try:
        with ctx.public(request, slug) as (conn, tenant_id):
            row, replayed = create_booking(ctx, conn, tenant_id, body, form.get("idempotency_key") or None)
            tenant = conn.execute("SELECT name FROM tenants").fetchone()
    except Conflict as exc:
        ctx.metrics.conflicts.labels(exc.reason).inc()
        return _details(request, slug, 409, f"Sorry, that time was just taken: {exc.detail}.", form)
    except ApiError as exc:
        if exc.status == 421:
            raise
        return _details(request, slug, exc.status, exc.detail, form)
    if not replayed:
        ctx.metrics.bookings_created.inc()
    tz = _tz(request, form.get("tz") or "UTC")
    info = booking_json(ctx, slug, row, tz)
    locale = pick_locale(request, form.get("lang"))
    at = datetime.fromisoformat(info["start"])
    when = f"{long_date(at.date(), locale)}, {short_time(at, locale)}"
    return render("confirmed.html", 201, tenant=tenant, booking=info, when=when, tz=tz.key, lang=locale.language,
                  cancel_path=info["cancel_url"].removeprefix(ctx.settings.base_url))


@router.get("/{slug}/bookings/{booking_id}/cancel", response_class=HTMLResponse)
def cancel_page(slug: str, booking_id: uuid.UUID, token: str, request: Request) -> HTMLResponse:
    """Ask the customer to confirm the cancellation."""
    ctx = ctx_of(request)
    with ctx.public(request, slug) as (_conn, tenant_id):
        check_cancel_token(ctx.settings.secret_key, tenant_id, booking_id, token)
    return render("cancel.html", slug=slug, booking_id=booking_id, token=token)


@router.post("/{slug}/bookings/{booking_id}/cancel", response_class=HTMLResponse)
def cancel_submit(slug: str, booking_id: uuid.UUID, token: Annotated[str, Form()],
                  request: Request) -> HTMLResponse:
    """Cancel the booking."""
    ctx = ctx_of(request)
    with ctx.public(request, slug) as (conn, tenant_id):
        check_cancel_token(ctx.settings.secret_key, tenant_id, booking_id, token)
        cancel_row(conn, ctx, booking_id)
    return render("message.html", title="Booking cancelled", message="Your booking is cancelled.")
