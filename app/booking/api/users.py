"""The business's team: owners invite staff (and other owners), change roles, remove accounts.

An invitation is a one-time token (`bki_...`, 7 days) returned to the owner once, with a link to pass on; the
service sends no email. The invitee sets a password on that page (or through the API) and is signed in. Only
the token's keyed hash is stored, like every other secret, so a copy of the database cannot accept it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from booking.audit import address_of, record
from booking.auth.passwords import check_password, hash_password
from booking.auth.sessions import TTL
from booking.auth.tokens import INVITE, OWNER, ROLES, STAFF, issue_token, new_token
from booking.context import Context, ctx_of
from booking.db import Conn, tenant_tx
from booking.errors import ApiError, not_found
from booking.mail.notices import invitation_sent

router = APIRouter(tags=["team"])
INVITE_TTL = timedelta(days=7)
USER_COLUMNS = "id, email, role, staff_id, mfa_enabled, password_hash IS NOT NULL AS active, invite_expires_at"


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    role: str = Field(default=STAFF, description="owner or staff")
    staff_id: uuid.UUID | None = Field(default=None, description="the staff member this account is; staff need one")


class UserPatch(BaseModel):
    role: str | None = None
    staff_id: uuid.UUID | None = None


class AcceptIn(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """An account as the team list shows it (never its secrets)."""
    return {"id": str(row["id"]), "email": row["email"], "role": row["role"],
            "staff_id": str(row["staff_id"]) if row["staff_id"] else None, "mfa_enabled": row["mfa_enabled"],
            "status": "active" if row["active"] else "invited",
            "invite_expires_at": row["invite_expires_at"].isoformat() if row["invite_expires_at"] else None}


def _check_role(role: str, staff_id: uuid.UUID | None) -> None:
    if role not in ROLES:
        raise ApiError(422, f"role={role!r}; allowed: {', '.join(ROLES)}")
    if role == STAFF and staff_id is None:
        raise ApiError(422, "role=staff needs staff_id: the staff member whose hours and bookings this account "
                            "manages (create one with POST /v1/staff)")


def _write(conn: Conn, statement: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Run an INSERT/UPDATE of users, turning constraint errors into 4xx that say what to change."""
    try:
        with conn.transaction():  # a savepoint: the request's transaction stays usable for the error path
            return conn.execute(statement, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        raise ApiError(422, f"staff_id={params.get('staff_id')} is not a staff member of this business") from None
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "users_one_account_per_staff":
            raise ApiError(409, f"staff member {params.get('staff_id')} already has an account; change or "
                                "remove that account first") from None
        raise ApiError(409, f"email={params.get('email')!r} already has an account in this business") from None


def _invitation(ctx: Context, tenant_id: uuid.UUID) -> tuple[dict[str, Any], dict[str, str]]:
    """A fresh invitation: (columns to store, what the owner is shown once)."""
    token = new_token("bki", tenant_id)
    expires = ctx.clock() + INVITE_TTL
    return ({"invite_hash": ctx.tokens.digest(token), "invite_expires_at": expires},
            {"invite_token": token, "invite_expires_at": expires.isoformat(),
             # for a person: a page that sets the password and signs in; for a program: POST the token here
             "invite_url": f"{ctx.settings.base_url}/invite?token={token}",
             "accept_url": f"{ctx.settings.base_url}/v1/invitations/accept"})


def _user(conn: Conn, user_id: uuid.UUID, lock: str = "") -> dict[str, Any]:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s {lock}", (user_id,)).fetchone()
    if row is None:
        raise not_found("user", user_id)
    return row


def _owners(conn: Conn) -> list[uuid.UUID]:
    """The active owners, row-locked in id order before any other users row of the request.

    Taking these locks first, always in the same order, is what lets two owners demote or remove each other
    at the same moment without a deadlock: the second waits, then sees the first's change.
    """
    rows = conn.execute("SELECT id FROM users WHERE role = 'owner' AND password_hash IS NOT NULL "
                        "ORDER BY id FOR UPDATE").fetchall()
    return [r["id"] for r in rows]


def _keep_an_owner(owners: list[uuid.UUID], leaving: uuid.UUID) -> None:
    """409 if `leaving` is the last active owner: nobody could manage the business any more."""
    if all(o == leaving for o in owners):
        raise ApiError(409, "this is the business's last owner; make another account an owner first")


@router.get("/v1/account")
def my_account(request: Request) -> dict[str, Any]:
    """The signed-in account: email, role and the staff member it is."""
    with ctx_of(request).authed(request) as (conn, who):
        return user_json(_user(conn, who.user_id))


@router.get("/v1/users")
def list_users(request: Request) -> dict[str, Any]:
    """Every account of the business, active and invited."""
    with ctx_of(request).authed(request) as (conn, _):
        rows = conn.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY email").fetchall()
    return {"users": [user_json(r) for r in rows]}


@router.post("/v1/users", status_code=201)
def invite_user(body: UserIn, request: Request) -> dict[str, Any]:
    """Invite an account; the answer holds the one-time `invite_token` to pass on (valid 7 days)."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        _check_role(body.role, body.staff_id)
        stored, invitation = _invitation(ctx, who.tenant_id)
        params = {"email": body.email.strip().lower(), "role": body.role, "staff_id": body.staff_id, **stored}
        row = _write(conn, "INSERT INTO users (tenant_id, email, role, staff_id, invite_hash, invite_expires_at) "
                           "VALUES (current_setting('app.tenant_id')::uuid, %(email)s, %(role)s, %(staff_id)s, "
                           "%(invite_hash)s, %(invite_expires_at)s) RETURNING id", params)
        assert row is not None
        record(conn, who.tenant_id, f"user:{who.user_id}", "user.invited", f"user:{row['id']}:{body.role}",
               address_of(request))
        invitation_sent(conn, ctx.settings, params["email"], body.role, invitation["invite_url"], ctx.clock())
        return {**user_json(_user(conn, row["id"])), **invitation}


@router.post("/v1/users/{user_id}/invite")
def reinvite_user(user_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """A new invitation for an account that has not accepted yet (the old token stops working)."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        row = _user(conn, user_id, "FOR UPDATE")
        if row["active"]:
            raise ApiError(409, f"user {user_id} has already accepted; they can change their password themselves")
        stored, invitation = _invitation(ctx, who.tenant_id)
        conn.execute("UPDATE users SET invite_hash = %(invite_hash)s, invite_expires_at = %(invite_expires_at)s "
                     "WHERE id = %(id)s", {**stored, "id": user_id})
        record(conn, who.tenant_id, f"user:{who.user_id}", "user.reinvited", f"user:{user_id}", address_of(request))
        invitation_sent(conn, ctx.settings, row["email"], row["role"], invitation["invite_url"], ctx.clock())
        return {**user_json(_user(conn, user_id)), **invitation}


@router.patch("/v1/users/{user_id}")
def change_user(user_id: uuid.UUID, body: UserPatch, request: Request) -> dict[str, Any]:
    """Change an account's role or staff member; takes effect on its very next request."""
    with ctx_of(request).authed(request) as (conn, who):
        owners = _owners(conn)
        row = _user(conn, user_id, "FOR UPDATE")
        sent = body.model_fields_set
        role = body.role if "role" in sent and body.role is not None else row["role"]
        staff_id = body.staff_id if "staff_id" in sent else row["staff_id"]
        _check_role(role, staff_id)
        if row["role"] == OWNER and role != OWNER:
            _keep_an_owner(owners, user_id)
        _write(conn, "UPDATE users SET role = %(role)s, staff_id = %(staff_id)s WHERE id = %(id)s RETURNING id",
               {"role": role, "staff_id": staff_id, "id": user_id})
        record(conn, who.tenant_id, f"user:{who.user_id}", "user.changed", f"user:{user_id}:{role}",
               address_of(request))
        return user_json(_user(conn, user_id))


@router.delete("/v1/users/{user_id}", status_code=204)
def remove_user(user_id: uuid.UUID, request: Request) -> Response:
    """Remove an account: its tokens, sessions and OAuth clients stop working at once."""
    with ctx_of(request).authed(request) as (conn, who):
        owners = _owners(conn)
        row = _user(conn, user_id, "FOR UPDATE")
        if row["role"] == OWNER:
            _keep_an_owner(owners, user_id)
        conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
        record(conn, who.tenant_id, f"user:{who.user_id}", "user.removed", f"user:{user_id}", address_of(request))
    return Response(status_code=204)


@contextmanager
def accepting(ctx: Context, request: Request, token: str, password: str) -> Iterator[tuple[Conn, dict[str, Any]]]:
    """Check the invitation and set the password, then let the caller issue a credential in the same transaction.

    401 if the token is unknown, used or expired (one message for all three, so it reveals nothing); 422 if the
    password breaks a rule, and then the invitation stays usable.
    """
    match = INVITE.fullmatch(token.strip())
    refused = ApiError(401, "this invitation is unknown, already used or expired; ask an owner of the business "
                            "for a new one (POST /v1/users/{id}/invite)")
    if match is None:
        raise refused
    tenant_id = uuid.UUID(match.group(1))
    with tenant_tx(ctx.pool, tenant_id) as conn:
        user = conn.execute("SELECT u.id, u.tenant_id, u.email, u.role, u.staff_id, t.name, t.slug FROM users u "
                            "JOIN tenants t ON t.id = u.tenant_id WHERE u.invite_hash = %s "
                            "AND u.invite_expires_at > %s FOR UPDATE OF u",
                            (ctx.tokens.digest(token.strip()), ctx.clock())).fetchone()
        if user is None:
            raise refused
        check_password(password, context=(user["name"], user["slug"], user["email"]), field="password")
        conn.execute("UPDATE users SET password_hash = %s, invite_hash = NULL, invite_expires_at = NULL "
                     "WHERE id = %s", (hash_password(password), user["id"]))
        record(conn, tenant_id, f"user:{user['id']}", "user.joined", "", address_of(request))
        request.state.tenant_id = str(tenant_id)
        yield conn, user


@router.post("/v1/invitations/accept")
def accept_invitation(body: AcceptIn, request: Request) -> dict[str, Any]:
    """Set the password of an invited account with its invitation token; answers with a login token."""
    ctx = ctx_of(request)
    with accepting(ctx, request, body.token, body.password) as (conn, user):
        # expires like a web session: staff work through sign-in; an owner who wants a lasting credential
        # creates a personal access token
        token = issue_token(conn, ctx.tokens, user["tenant_id"], user["id"], name="invitation",
                            expires_at=ctx.clock() + TTL)[1]
    return {"access_token": token, "user": {"id": str(user["id"]), "email": user["email"], "role": user["role"],
                                            "staff_id": str(user["staff_id"]) if user["staff_id"] else None},
            "tenant": {"id": str(user["tenant_id"]), "slug": user["slug"]}}
