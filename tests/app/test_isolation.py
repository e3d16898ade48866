"""Tenant isolation: catalog checks of row-level security and cross-tenant access through API and SQL."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from tests.app.conftest import Business, Service, as_app, book, make_business

# Tables deliberately outside row-level security, with the reason; nothing else may be.
GLOBAL_TABLES = {
    "alembic_version": "schema revision, no tenant data",
    "tenant_directory": "slug -> tenant id and home cell, the routing data every cell needs; no personal data",
    "outbox_due": "tenant id, message id and due time: what the mail worker must look at; no personal data",
    "slug_claims": "slug -> the cell about to create it, for a minute; no tenant yet, no personal data",
}
# Tables the service role may append to but never rewrite.
APPEND_ONLY = {"audit_events"}


@pytest.fixture(scope="module")
def two(service: Service) -> tuple[Business, Business, str]:
    a = make_business(service, "alpha-clinic")
    b = make_business(service, "beta-salon")
    service.clock.now = service.clock.now.replace(year=2026, month=1, day=5)
    r = book(service, a, "2026-01-06T10:00:00+01:00")
    assert r.status_code == 201, r.text
    return a, b, r.json()["id"]


def tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1")]


def test_every_tenant_table_has_forced_rls_and_a_fail_closed_policy(service: Service) -> None:
    with psycopg.connect(service.db.owner_url) as conn:
        names = tables(conn)
        assert set(GLOBAL_TABLES) <= set(names)
        tenant_tables = [t for t in names if t not in GLOBAL_TABLES]
        assert len(tenant_tables) >= 13, tenant_tables
        for table in tenant_tables:
            enabled, forced = conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                                           "WHERE relname = %s AND relnamespace = 'public'::regnamespace",
                                           (table,)).fetchone()
            assert (enabled, forced) == (True, True), f"{table}: RLS enabled={enabled} forced={forced}"
            policies = conn.execute("SELECT qual, with_check FROM pg_policies WHERE tablename = %s",
                                    (table,)).fetchall()
            assert policies, f"{table} has no policy"
            for qual, check in policies:
                for expr in (qual, check):
                    assert "NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid" in expr, \
                        f"{table}: policy {expr!r} is not the fail-closed tenant check"
        cols = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_name = 'tenant_directory'")}
        assert cols == {"slug", "tenant_id", "home_cell", "updated_at"}, "directory must hold no personal data"


def test_service_role_owns_nothing_and_cannot_bypass_rls(service: Service) -> None:
    with as_app(service.db) as conn:
        role = conn.execute("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
                            "WHERE rolname = current_user").fetchone()
        assert role == (False, False, False, False)
        owned = conn.execute(
            "SELECT 'class', relname FROM pg_class WHERE relowner = 'booking_app'::regrole "
            "UNION ALL SELECT 'schema', nspname FROM pg_namespace WHERE nspowner = 'booking_app'::regrole "
            "UNION ALL SELECT 'function', proname FROM pg_proc WHERE proowner = 'booking_app'::regrole "
            "UNION ALL SELECT 'database', datname FROM pg_database WHERE datdba = 'booking_app'::regrole").fetchall()
        assert owned == []


def test_with_no_tenant_set_every_table_reads_empty(service: Service, two: tuple[Business, Business, str]) -> None:
    with as_app(service.db) as conn:
        for table in tables(conn):
            if table in GLOBAL_TABLES:
                continue
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            assert count == 0, f"{table} shows {count} rows with no tenant set"


def test_raw_sql_as_tenant_b_finds_nothing_of_tenant_a(service: Service, two: tuple[Business, Business, str]) -> None:
    a, b, _ = two
    with as_app(service.db) as conn:
        for table in tables(conn):
            if table in GLOBAL_TABLES:
                continue
            column = "id" if table == "tenants" else "tenant_id"
            with conn.transaction():
                conn.execute("SELECT set_config('app.tenant_id', %s, true)", (a.tenant_id,))
                own = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            with conn.transaction():
                conn.execute("SELECT set_config('app.tenant_id', %s, true)", (b.tenant_id,))
                ident = sql.Identifier(table)
                col = sql.Identifier(column)
                seen = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(ident, col),
                                    (a.tenant_id,)).fetchone()[0]
                updated = 0 if table in APPEND_ONLY else conn.execute(
                    sql.SQL("UPDATE {} SET {} = {} WHERE {} = %s").format(ident, col, col, col),
                    (a.tenant_id,)).rowcount
                deleted = conn.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(ident, col),
                                       (a.tenant_id,)).rowcount
            assert (seen, updated, deleted) == (0, 0, 0), f"{table}: tenant B reached tenant A's rows"
            if table in ("tenants", "users", "staff", "services", "bookings", "customers", "api_tokens",
                         "audit_events"):
                assert own > 0, f"{table}: tenant A should have rows (the test would prove nothing)"


def test_the_audit_log_cannot_be_rewritten_by_the_service(service: Service,
                                                          two: tuple[Business, Business, str]) -> None:
    a, _, _ = two
    with as_app(service.db) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (a.tenant_id,))
        for table in APPEND_ONLY:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("UPDATE {} SET tenant_id = tenant_id").format(sql.Identifier(table)))


def test_tenant_b_cannot_write_rows_for_tenant_a(service: Service, two: tuple[Business, Business, str]) -> None:
    a, b, _ = two
    with as_app(service.db) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (b.tenant_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO staff (tenant_id, name, timezone) VALUES (%s, 'Mallory', 'UTC')",
                         (a.tenant_id,))


def test_tenant_set_in_one_transaction_does_not_leak_to_the_next(service: Service,
                                                                 two: tuple[Business, Business, str]) -> None:
    a, _, _ = two
    with as_app(service.db) as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (a.tenant_id,))
            assert conn.execute("SELECT count(*) FROM staff").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM staff").fetchone()[0] == 0


def test_api_as_tenant_b_finds_none_of_tenant_a_objects(service: Service,
                                                        two: tuple[Business, Business, str]) -> None:
    a, b, booking_id = two
    attempts = [
        ("GET", f"/v1/staff/{a.staff_id}", None),
        ("PUT", f"/v1/staff/{a.staff_id}/availability", {"weekly": {"monday": [["00:00", "24:00"]]}}),
        ("PUT", f"/v1/staff/{a.staff_id}/calendar", {"url": "http://127.0.0.1:9/x.ics"}),
        ("DELETE", f"/v1/staff/{a.staff_id}", None),
        ("GET", f"/v1/services/{a.service_id}", None),
        ("DELETE", f"/v1/services/{a.service_id}", None),
        ("GET", f"/v1/bookings/{booking_id}", None),
        ("POST", f"/v1/bookings/{booking_id}/cancel", None),
        ("POST", f"/v1/bookings/{booking_id}/reschedule", {"start": "2026-01-06T11:00:00+01:00"}),
    ]
    for method, path, body in attempts:
        r = service.call(method, path, b.token, json=body)
        assert r.status_code == 404, f"{method} {path} as tenant B gave {r.status_code} {r.text}"
    listed = service.call("GET", "/v1/bookings", b.token).json()["bookings"]
    assert listed == []
    # tenant A's objects are untouched
    assert service.call("GET", f"/v1/staff/{a.staff_id}", a.token).json()["weekly"]["monday"] == [["09:00", "17:00"]]
    assert service.call("GET", f"/v1/bookings/{booking_id}", a.token).json()["status"] == "confirmed"
    assert service.call("GET", f"/v1/services/{a.service_id}", a.token).status_code == 200


def test_a_token_cannot_be_replayed_against_another_tenant(service: Service,
                                                           two: tuple[Business, Business, str]) -> None:
    a, b, _ = two
    secret = a.token.split("_", 2)[2]
    forged = f"bk_{b.tenant_id.replace('-', '')}_{secret}"
    r = service.call("GET", "/v1/staff", forged)
    assert r.status_code == 401
    assert service.call("GET", "/v1/staff", None).status_code == 401


def test_composite_keys_stop_a_row_pointing_at_another_tenants_row(service: Service,
                                                                   two: tuple[Business, Business, str]) -> None:
    a, b, _ = two
    with as_app(service.db) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (b.tenant_id,))
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO service_staff (tenant_id, service_id, staff_id) VALUES (%s, %s, %s)",
                         (b.tenant_id, b.service_id, a.staff_id))
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO availability_rules (tenant_id, staff_id, weekday, start_minute, end_minute) "
                         "VALUES (%s, %s, 0, 0, 60)", (b.tenant_id, a.staff_id))


def test_tenant_b_cannot_use_tenant_a_ids_in_request_bodies(service: Service,
                                                            two: tuple[Business, Business, str]) -> None:
    a, b, _ = two
    r = service.call("POST", "/v1/services", b.token, json={"name": "Steal", "duration_minutes": 30,
                                                            "staff_ids": [a.staff_id]})
    assert r.status_code == 422
    assert "do not exist" in r.json()["detail"]
    r = service.call("POST", f"/v1/public/{b.slug}/bookings", json={
        "service_id": a.service_id, "staff_id": a.staff_id, "start": "2026-01-06T11:00:00+01:00",
        "customer": {"name": "Eve", "email": "eve@example.com"}})
    assert r.status_code == 422
    slots = service.call("GET", f"/v1/public/{b.slug}/services/{a.service_id}/slots",
                         params={"from": "2026-01-06", "to": "2026-01-06"})
    assert slots.status_code == 422
