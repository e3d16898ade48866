"""Team accounts: owners invite staff, staff manage only their own hours, calendar and bookings."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import requests

from tests.app.conftest import PASSWORD, Business, Cluster, Service, book, make_business

TENANT = uuid.UUID("6d0c7a52-0000-4000-8000-00000000d0e6")
STAFF_PASSWORD = "a long staff passphrase of words"


def invite(svc: Service, biz: Business, email: str, **body: Any) -> dict[str, Any]:
    r = svc.call("POST", "/v1/users", biz.token, json={"email": email, **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def join(svc: Service, biz: Business, email: str, staff_id: str | None, role: str = "staff") -> str:
    """Invite and accept: the new account's access token."""
    invited = invite(svc, biz, email, role=role, staff_id=staff_id)
    r = svc.call("POST", "/v1/invitations/accept", json={"token": invited["invite_token"], "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def second_staff(svc: Service, biz: Business, name: str = "Blake") -> str:
    """Another staff member of `biz`, working 9-17 on weekdays and providing the business's service."""
    r = svc.call("POST", "/v1/staff", biz.token, json={"name": name, "timezone": "Europe/Berlin"})
    assert r.status_code == 201, r.text
    sid = str(r.json()["id"])
    week = {d: [["09:00", "17:00"]] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    assert svc.call("PUT", f"/v1/staff/{sid}/availability", biz.token, json={"weekly": week}).status_code == 200
    r = svc.call("POST", "/v1/services", biz.token, json={"name": f"With {name}", "duration_minutes": 30,
                                                         "horizon_days": 3650, "staff_ids": [sid]})
    assert r.status_code == 201, r.text
    return sid


def test_an_invited_member_sets_a_password_once_and_then_signs_in(service: Service) -> None:
    biz = make_business(service, "team-invite")
    invited = invite(service, biz, "Sam@Team-Invite.example", role="staff", staff_id=biz.staff_id)
    assert invited["status"] == "invited"
    assert invited["email"] == "sam@team-invite.example"
    assert invited["invite_token"].startswith("bki_")
    listed = {u["email"]: u for u in service.call("GET", "/v1/users", biz.token).json()["users"]}
    assert listed["sam@team-invite.example"]["status"] == "invited"
    assert "invite_token" not in listed["sam@team-invite.example"]  # shown once, at creation

    login = {"slug": biz.slug, "email": "sam@team-invite.example", "password": STAFF_PASSWORD}
    assert service.call("POST", "/v1/login", json=login).status_code == 401  # no password yet

    weak = service.call("POST", "/v1/invitations/accept", json={"token": invited["invite_token"], "password": "short"})
    assert weak.status_code == 422
    assert "at least" in weak.json()["detail"]
    accepted = service.call("POST", "/v1/invitations/accept",
                            json={"token": invited["invite_token"], "password": STAFF_PASSWORD})
    assert accepted.status_code == 200, accepted.text  # the refused weak password did not use the invitation up
    assert accepted.json()["user"] == {"id": invited["id"], "email": "sam@team-invite.example", "role": "staff",
                                       "staff_id": biz.staff_id}
    me = service.call("GET", "/v1/account", accepted.json()["access_token"]).json()
    assert (me["role"], me["status"], me["staff_id"]) == ("staff", "active", biz.staff_id)

    again = service.call("POST", "/v1/invitations/accept",
                         json={"token": invited["invite_token"], "password": "another long passphrase here"})
    assert again.status_code == 401
    assert "already used or expired" in again.json()["detail"]
    assert service.call("POST", "/v1/login", json=login).status_code == 200


def test_an_invitation_expires_after_seven_days_and_a_new_one_replaces_it(service: Service) -> None:
    biz = make_business(service, "team-expiry")
    first = invite(service, biz, "late@team-expiry.example", role="staff", staff_id=biz.staff_id)
    service.clock.now += timedelta(days=7, minutes=1)
    try:
        late = service.call("POST", "/v1/invitations/accept",
                            json={"token": first["invite_token"], "password": STAFF_PASSWORD})
        assert late.status_code == 401
        second = service.call("POST", f"/v1/users/{first['id']}/invite", biz.token)
        assert second.status_code == 200, second.text
        assert second.json()["invite_token"] != first["invite_token"]
        assert service.call("POST", "/v1/invitations/accept",
                            json={"token": first["invite_token"], "password": STAFF_PASSWORD}).status_code == 401
        ok = service.call("POST", "/v1/invitations/accept",
                          json={"token": second.json()["invite_token"], "password": STAFF_PASSWORD})
        assert ok.status_code == 200, ok.text
        assert service.call("POST", f"/v1/users/{first['id']}/invite", biz.token).status_code == 409  # accepted
    finally:
        service.clock.now -= timedelta(days=7, minutes=1)


def test_staff_change_their_own_hours_and_calendar_and_nothing_else(service: Service) -> None:
    biz = make_business(service, "team-perms")
    other = second_staff(service, biz)
    token = join(service, biz, "sam@team-perms.example", biz.staff_id)
    week = {"weekly": {"monday": [["10:00", "12:00"]]}}

    assert service.call("PUT", f"/v1/staff/{biz.staff_id}/availability", token, json=week).status_code == 200
    assert service.call("GET", f"/v1/staff/{biz.staff_id}", token).json()["weekly"] == {"monday": [["10:00", "12:00"]]}
    ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n"
    own_calendar = service.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", token, data=ics,
                                headers={"Content-Type": "text/calendar"})
    assert own_calendar.status_code == 200, own_calendar.text

    theirs = service.call("PUT", f"/v1/staff/{other}/availability", token, json=week)
    assert theirs.status_code == 403
    assert "only its own staff member" in theirs.json()["detail"]
    assert service.call("GET", f"/v1/staff/{other}", biz.token).json()["weekly"]["monday"] == [["09:00", "17:00"]]
    assert service.call("PUT", f"/v1/staff/{other}/calendar", token, data=ics,
                        headers={"Content-Type": "text/calendar"}).status_code == 403

    # readable: the business and its catalog
    for path in ("/v1/tenant", "/v1/services", "/v1/staff", "/v1/questions", f"/v1/services/{biz.service_id}"):
        assert service.call("GET", path, token).status_code == 200, path
    # owners only: the catalog, the team, credentials, customers' personal data, the business itself
    refused = [("POST", "/v1/staff", {"name": "X", "timezone": "UTC"}),
               ("DELETE", f"/v1/staff/{other}", None),
               ("POST", "/v1/services", {"name": "X", "duration_minutes": 30, "staff_ids": [biz.staff_id]}),
               ("PUT", "/v1/questions", []),
               ("GET", "/v1/users", None), ("POST", "/v1/users", {"email": "x@y.example", "role": "owner"}),
               ("POST", "/v1/tokens", {"name": "mine", "scopes": ["bookings:read"]}),
               ("GET", "/v1/customers?email=o@example.com", None), ("GET", "/v1/tenant/export", None),
               ("GET", "/v1/audit", None),
               ("POST", "/v1/tenant/erase", {"confirm_slug": biz.slug})]
    for method, path, body in refused:
        r = service.call(method, path, token, json=body)
        assert r.status_code == 403, f"{method} {path} as staff -> {r.status_code} {r.text[:200]}"
        assert "for the business's owners" in r.json()["detail"]
    assert len(service.call("GET", "/v1/staff", biz.token).json()["staff"]) == 2  # nothing was changed


def test_staff_see_and_manage_only_their_own_bookings(service: Service) -> None:
    biz = make_business(service, "team-bookings")
    other = second_staff(service, biz)
    mine = book(service, biz, "2026-01-06T10:00:00+01:00")
    assert mine.status_code == 201, mine.text
    services = service.call("GET", "/v1/services", biz.token).json()["services"]
    other_service = next(s["id"] for s in services if s["staff_ids"] == [other])
    theirs = service.call("POST", f"/v1/public/{biz.slug}/bookings", json={
        "service_id": other_service, "staff_id": other, "start": "2026-01-06T10:00:00+01:00",
        "customer": {"name": "Other Customer", "email": "o@example.com"}})
    assert theirs.status_code == 201, theirs.text
    token = join(service, biz, "sam@team-bookings.example", biz.staff_id)

    listed = service.call("GET", "/v1/bookings", token).json()["bookings"]
    assert [b["id"] for b in listed] == [mine.json()["id"]]
    assert len(service.call("GET", "/v1/bookings", biz.token).json()["bookings"]) == 2  # the owner sees both

    their_id = theirs.json()["id"]
    assert service.call("GET", f"/v1/bookings/{their_id}", token).status_code == 404
    assert service.call("POST", f"/v1/bookings/{their_id}/cancel", token).status_code == 404
    assert service.call("POST", f"/v1/bookings/{their_id}/reschedule", token,
                        json={"start": "2026-01-06T11:00:00+01:00"}).status_code == 404
    kept = service.call("GET", f"/v1/bookings/{their_id}", biz.token).json()
    assert (kept["status"], kept["start"]) == ("confirmed", "2026-01-06T09:00:00+00:00")

    moved = service.call("POST", f"/v1/bookings/{mine.json()['id']}/reschedule", token,
                         json={"start": "2026-01-06T11:00:00+01:00"})
    assert moved.status_code == 200
    assert moved.json()["start"] == "2026-01-06T10:00:00+00:00"
    cancelled = service.call("POST", f"/v1/bookings/{mine.json()['id']}/cancel", token)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


def test_role_changes_and_removal_take_effect_on_the_next_request(service: Service) -> None:
    biz = make_business(service, "team-roles")
    token = join(service, biz, "sam@team-roles.example", biz.staff_id)
    sam = service.call("GET", "/v1/account", token).json()["id"]
    owner = next(u["id"] for u in service.call("GET", "/v1/users", biz.token).json()["users"] if u["role"] == "owner")
    new_staff = {"name": "Kim", "timezone": "UTC"}
    assert service.call("POST", "/v1/staff", token, json=new_staff).status_code == 403

    promoted = service.call("PATCH", f"/v1/users/{sam}", biz.token, json={"role": "owner"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "owner"
    assert service.call("POST", "/v1/staff", token, json=new_staff).status_code == 201

    # two owners: either may step down, but not both
    assert service.call("PATCH", f"/v1/users/{owner}", token, json={"role": "staff", "staff_id": None}).status_code \
        == 422  # a staff account needs its staff member
    assert service.call("DELETE", f"/v1/users/{owner}", token).status_code == 204
    assert service.call("GET", "/v1/tenant", biz.token).status_code == 401  # the removed owner's token is dead
    last = service.call("PATCH", f"/v1/users/{sam}", token, json={"role": "staff"})
    assert last.status_code == 409
    assert "last owner" in last.json()["detail"]
    assert service.call("DELETE", f"/v1/users/{sam}", token).status_code == 409
    assert service.call("GET", "/v1/account", token).json()["role"] == "owner"  # nothing changed


def test_bad_team_requests_are_refused_with_the_reason(service: Service) -> None:
    biz = make_business(service, "team-bad")
    stranger = make_business(service, "team-stranger")
    cases = [({"email": "a@team-bad.example", "role": "admin", "staff_id": biz.staff_id}, 422, "allowed: owner, staff"),
             ({"email": "a@team-bad.example", "role": "staff"}, 422, "needs staff_id"),
             ({"email": "a@team-bad.example", "role": "staff", "staff_id": stranger.staff_id}, 422,
              "not a staff member of this business"),
             ({"email": "owner@team-bad.example", "role": "owner"}, 409, "already has an account"),
             ({"email": "not-an-email", "role": "owner"}, 422, "email")]
    for body, status, why in cases:
        r = service.call("POST", "/v1/users", biz.token, json=body)
        assert (r.status_code, why in r.text) == (status, True), f"{body} -> {r.status_code} {r.text[:200]}"
    invite(service, biz, "first@team-bad.example", role="staff", staff_id=biz.staff_id)
    twice = service.call("POST", "/v1/users", biz.token, json={"email": "second@team-bad.example", "role": "staff",
                                                                "staff_id": biz.staff_id})
    assert twice.status_code == 409
    assert "already has an account" in twice.json()["detail"]
    assert service.call("POST", "/v1/invitations/accept", json={"token": "bki_nonsense", "password": PASSWORD}) \
        .status_code == 401
    emails = sorted(u["email"] for u in service.call("GET", "/v1/users", biz.token).json()["users"])
    assert emails == ["first@team-bad.example", "owner@team-bad.example"]  # no refused request left an account


def test_removing_a_staff_member_keeps_the_account_but_unlinks_it(service: Service) -> None:
    biz = make_business(service, "team-unlink")
    assert book(service, biz, "2026-01-06T10:00:00+01:00").status_code == 201
    extra = second_staff(service, biz, "Robin")
    token = join(service, biz, "robin@team-unlink.example", extra)
    assert service.call("DELETE", f"/v1/staff/{extra}", biz.token).status_code == 204
    me = service.call("GET", "/v1/account", token).json()
    assert me["staff_id"] is None
    assert me["status"] == "active"
    assert service.call("GET", "/v1/bookings", token).json()["bookings"] == []  # not the other member's
    r = service.call("PUT", f"/v1/staff/{biz.staff_id}/availability", token, json={"weekly": {}})
    assert r.status_code == 403
    assert "not linked to a staff member" in r.json()["detail"]


def _cookies(r: requests.Response) -> dict[str, str]:
    # Secure cookies are not sent back over http by requests' jar, so the test carries them by hand
    raw = r.raw.headers.getlist("Set-Cookie")
    return {c.split(";")[0].split("=", 1)[0]: c.split(";")[0].split("=", 1)[1] for c in raw}


def test_the_invitation_link_opens_a_form_that_sets_the_password_and_signs_in(service: Service) -> None:
    biz = make_business(service, "team-link")
    invited = invite(service, biz, "lee@team-link.example", role="staff", staff_id=biz.staff_id)
    link = invited["invite_url"]
    assert link.startswith(f"{service.url}/invite?token=bki_")
    page = requests.get(link, timeout=30)
    assert page.status_code == 200
    assert '<label for="password">New password</label>' in page.text
    form_csrf = _cookies(page)["__Host-login-csrf"]
    jar = {"Cookie": f"__Host-login-csrf={form_csrf}"}
    form = {"token": invited["invite_token"], "csrf_token": form_csrf}

    forged = service.call("POST", "/invite", data={**form, "password": STAFF_PASSWORD, "csrf_token": "forged"},
                          headers=jar, allow_redirects=False)
    assert forged.status_code == 403
    weak = service.call("POST", "/invite", data={**form, "password": "short"}, headers=jar, allow_redirects=False)
    assert weak.status_code == 422
    assert "at least 15 characters" in weak.text
    assert 'role="alert"' in weak.text
    done = service.call("POST", "/invite", data={**form, "password": STAFF_PASSWORD}, headers=jar,
                        allow_redirects=False)
    assert done.status_code == 303
    assert done.headers["Location"] == "/account"
    account = service.call("GET", "/account", headers={"Cookie": f"__Host-session={_cookies(done)['__Host-session']}"})
    assert "Signed in as lee@team-link.example (staff)" in account.text
    reused = service.call("POST", "/invite", data={**form, "password": STAFF_PASSWORD}, headers=jar,
                          allow_redirects=False)
    assert reused.status_code == 401
    assert "already used or expired" in reused.text


# Routes that need no account (or are the owner's own pages): the sweep below leaves them out.
PUBLIC = ("/v1/public/", "/v1/signup", "/v1/login", "/v1/oauth/token", "/v1/invitations/accept", "/v1/directory/",
          "/healthz", "/readyz", "/metrics", "/images/")


def test_a_staff_account_gets_nothing_from_any_route_outside_its_allow_list(service: Service) -> None:
    """Every operation in /openapi.json, tried as staff: only the allow-listed ones may succeed."""
    from booking.auth.roles import STAFF_ROUTES

    biz = make_business(service, "team-sweep")
    other = second_staff(service, biz)
    token = join(service, biz, "sam@team-sweep.example", biz.staff_id)
    ids = {"staff_id": other, "service_id": biz.service_id, "user_id": str(uuid.uuid4()),
           "booking_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "token_id": str(uuid.uuid4()),
           "client_id": str(uuid.uuid4()), "integration_id": str(uuid.uuid4()), "image_id": str(uuid.uuid4())}
    refused = 0
    for path, methods in service.call("GET", "/openapi.json").json()["paths"].items():
        if path.startswith(PUBLIC) or path == "/{slug}" or "{slug}" in path:
            continue
        concrete = path
        for name, value in ids.items():
            concrete = concrete.replace("{" + name + "}", value)
        assert "{" not in concrete, f"{path}: no id to fill in; extend ids"
        for method in methods:
            if (method.upper(), path) in STAFF_ROUTES:
                continue
            r = service.call(method.upper(), concrete, token, json={})
            # 403 from the role check; 422/503 from validation or a missing store before it: never a success
            assert r.status_code in (403, 422, 503), f"{method.upper()} {path} as staff -> {r.status_code} " \
                                                     f"{r.text[:200]}"
            refused += r.status_code == 403
    assert refused >= 15  # these reached the role check itself; the others failed body validation first
    assert len(service.call("GET", "/v1/staff", biz.token).json()["staff"]) == 2
    assert len(service.call("GET", "/v1/users", biz.token).json()["users"]) == 2


def test_removing_the_team_migration_drops_only_invited_accounts(cluster: Cluster) -> None:
    from alembic import command
    from booking import migrate

    db = cluster.fresh_database("team_downgrade_" + uuid.uuid4().hex[:6])
    with psycopg.connect(db.owner_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(TENANT),))
        conn.execute("INSERT INTO tenants (id, slug, name, home_cell, residency, timezone) VALUES "
                     "(%s, 'down-shop', 'Down', 'us', 'us', 'UTC')", (TENANT,))
        conn.execute("INSERT INTO users (tenant_id, email, password_hash, role) VALUES "
                     "(%s, 'owner@down.example', 'x', 'owner')", (TENANT,))
        conn.execute("INSERT INTO users (tenant_id, email, role, invite_hash, invite_expires_at) VALUES "
                     "(%s, 'invited@down.example', 'staff', 'h', now())", (TENANT,))
    command.downgrade(migrate.alembic_config(db.owner_url), "0005")
    with psycopg.connect(db.owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(TENANT),))
        assert conn.execute("SELECT email FROM users").fetchall() == [("owner@down.example",)]
    migrate.upgrade(db.owner_url)
