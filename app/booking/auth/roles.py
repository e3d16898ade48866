"""What each role may do: owners everything, staff their own hours, calendar and bookings.

The rule is an allow-list by route template, checked once in `Context.authed`, so a route added later is
owner-only until someone decides otherwise here (failing closed, like the row-level security policy).
Scopes on a token narrow a role further; they never widen it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from booking.auth.tokens import OWNER, Principal
from booking.errors import ApiError

# (method, route template) a staff account may call
STAFF_ROUTES = frozenset({
    # their own account: who am I, sign out, password, second factor
    ("GET", "/v1/account"), ("POST", "/v1/logout"), ("POST", "/v1/account/logout-all"),
    ("PUT", "/v1/account/password"), ("POST", "/v1/account/totp"), ("POST", "/v1/account/totp/confirm"),
    ("POST", "/v1/account/totp/disable"),
    ("GET", "/account"), ("POST", "/account/logout-all"), ("POST", "/logout"),
    # the business and its catalog, read-only
    ("GET", "/v1/tenant"), ("GET", "/v1/services"), ("GET", "/v1/services/{service_id}"), ("GET", "/v1/questions"),
    ("GET", "/v1/staff"), ("GET", "/v1/staff/{staff_id}"),
    # their own hours and connected calendar (OWN_STAFF_ROUTES)
    ("PUT", "/v1/staff/{staff_id}/availability"), ("PUT", "/v1/staff/{staff_id}/calendar"),
    ("GET", "/v1/staff/{staff_id}/calendar"),
    # their own bookings: the handlers filter by Principal.staff_id (api/bookings.py, MINE)
    ("GET", "/v1/bookings"), ("GET", "/v1/bookings/{booking_id}"), ("POST", "/v1/bookings/{booking_id}/cancel"),
    ("POST", "/v1/bookings/{booking_id}/reschedule"),
})
# routes whose {staff_id} must be the caller's own staff member
OWN_STAFF_ROUTES = frozenset({"/v1/staff/{staff_id}/availability", "/v1/staff/{staff_id}/calendar"})


def check_role(who: Principal, method: str, route: str, path_params: Mapping[str, str]) -> None:
    """Raise 403 unless the caller's role allows `method route` (a route template, e.g. /v1/staff/{staff_id})."""
    if who.role == OWNER:
        return
    if method == "HEAD":
        method = "GET"
    if (method, route) not in STAFF_ROUTES:
        raise ApiError(403, f"{method} {route} is for the business's owners; a {who.role} account manages only "
                            "its own hours, calendar and bookings. Ask an owner to do this or to change your role")
    if route in OWN_STAFF_ROUTES and not _same_staff(path_params.get("staff_id"), who.staff_id):
        mine = f"your own ({who.staff_id})" if who.staff_id else "none: your account is not linked to a staff member"
        raise ApiError(403, f"a {who.role} account may change only its own staff member's hours and calendar; "
                            f"yours is {mine}")


def _same_staff(given: str | None, own: uuid.UUID | None) -> bool:
    """Whether a path's staff id is the caller's own, whatever the UUID's spelling (case, braces)."""
    if given is None or own is None:
        return False
    try:
        return uuid.UUID(given) == own
    except ValueError:
        return False


def own_staff(who: Principal) -> tuple[bool, str | None]:
    """(restricted, staff id) for queries: owners see every booking; staff only their staff member's."""
    if who.role == OWNER:
        return False, None
    return True, str(who.staff_id) if who.staff_id else None
