"""Services a business offers and the questions it asks when booking."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from booking.context import ctx_of
from booking.errors import ApiError, not_found
from booking.questions import list_questions, replace_questions
from booking.search import MAX_STAFF_PER_SERVICE

router = APIRouter(prefix="/v1", tags=["catalog"])

SERVICE_COLUMNS = ("name", "duration_minutes", "buffer_before_minutes", "buffer_after_minutes",
                   "min_notice_minutes", "horizon_days", "slot_interval_minutes", "max_per_day")


class ServiceIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    duration_minutes: int = Field(ge=5, le=1440)
    buffer_before_minutes: int = Field(default=0, ge=0, le=1440)
    buffer_after_minutes: int = Field(default=0, ge=0, le=1440)
    min_notice_minutes: int = Field(default=0, ge=0, le=525600)
    horizon_days: int = Field(default=60, ge=1, le=3650)
    slot_interval_minutes: int | None = Field(default=None, ge=5, le=1440,
                                              description="step between slot starts; default: the duration")
    max_per_day: int | None = Field(default=None, ge=1)
    staff_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_STAFF_PER_SERVICE,
                                       description="who provides it; the slot search's cost grows with their number")


class QuestionIn(BaseModel):
    key: str
    label: str
    kind: str = "text"
    choices: list[str] = Field(default_factory=list)
    required: bool = False


def service_json(row: dict[str, Any], staff_ids: list[Any]) -> dict[str, Any]:
    """A services row for the API."""
    return {"id": str(row["id"]), **{c: row[c] for c in SERVICE_COLUMNS},
            "staff_ids": sorted(str(s) for s in staff_ids)}


@router.post("/services", status_code=201)
def create_service(body: ServiceIn, request: Request) -> dict[str, Any]:
    """Create a service provided by `staff_ids`."""
    values = body.model_dump(exclude={"staff_ids"})
    if values["slot_interval_minutes"] is None:
        values["slot_interval_minutes"] = body.duration_minutes
    with ctx_of(request).authed(request) as (conn, _):
        found = {r["id"] for r in conn.execute("SELECT id FROM staff WHERE id = ANY(%s)", (body.staff_ids,))}
        missing = [str(s) for s in body.staff_ids if s not in found]
        if missing:
            raise ApiError(422, f"staff_ids {missing} do not exist; create staff with POST /v1/staff first")
        cols = ", ".join(SERVICE_COLUMNS)
        row = conn.execute(
            f"INSERT INTO services (tenant_id, {cols}) VALUES (current_setting('app.tenant_id')::uuid, "
            + ", ".join(f"%({c})s" for c in SERVICE_COLUMNS) + ") RETURNING *", values).fetchone()
        assert row is not None
        for staff_id in set(body.staff_ids):
            conn.execute("INSERT INTO service_staff (tenant_id, service_id, staff_id) VALUES "
                         "(current_setting('app.tenant_id')::uuid, %s, %s)", (row["id"], staff_id))
    return service_json(row, list(set(body.staff_ids)))


@router.get("/services")
def list_services(request: Request) -> dict[str, Any]:
    """All services of the caller's tenant."""
    with ctx_of(request).authed(request) as (conn, _):
        rows = conn.execute("SELECT * FROM services ORDER BY name").fetchall()
        links = conn.execute("SELECT service_id, staff_id FROM service_staff").fetchall()
    return {"services": [service_json(r, [x["staff_id"] for x in links if x["service_id"] == r["id"]])
                         for r in rows]}


@router.get("/services/{service_id}")
def get_service(service_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """One service."""
    with ctx_of(request).authed(request) as (conn, _):
        row = conn.execute("SELECT * FROM services WHERE id = %s", (service_id,)).fetchone()
        if row is None:
            raise not_found("service", service_id)
        staff = [r["staff_id"] for r in conn.execute(
            "SELECT staff_id FROM service_staff WHERE service_id = %s", (service_id,))]
    return service_json(row, staff)


@router.delete("/services/{service_id}", status_code=204)
def delete_service(service_id: uuid.UUID, request: Request) -> Response:
    """Delete a service and its bookings."""
    with ctx_of(request).authed(request) as (conn, _):
        try:
            gone = conn.execute("DELETE FROM services WHERE id = %s", (service_id,)).rowcount
        except psycopg.errors.ForeignKeyViolation:
            raise ApiError(409, f"service {service_id} is still referenced") from None
    if not gone:
        raise not_found("service", service_id)
    return Response(status_code=204)


@router.put("/questions")
def put_questions(body: list[QuestionIn], request: Request) -> dict[str, Any]:
    """Replace the booking questions customers answer (text or choice, optionally required)."""
    with ctx_of(request).authed(request) as (conn, _):
        return {"questions": replace_questions(conn, [q.model_dump() for q in body])}


@router.get("/questions")
def get_questions(request: Request) -> dict[str, Any]:
    """The booking questions."""
    with ctx_of(request).authed(request) as (conn, _):
        return {"questions": list_questions(conn)}
