"""What every migration that adds a tenant-owned table does, written once.

The isolation policy is the invariant the whole service rests on, so its SQL lives here and each
migration calls `isolate(...)` instead of repeating it. Migrations emit exactly this SQL; change it
only together with a new migration that alters the existing policies.
"""

from __future__ import annotations

import re

from alembic import context, op

# Fail closed: with app.tenant_id unset or empty the comparison is against NULL and no row matches.
CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def app_role() -> str:
    """The service role named by `-x app_role=...` (or the config attribute), checked as an identifier."""
    role = context.get_x_argument(as_dictionary=True).get("app_role") or context.config.attributes.get(
        "app_role", "booking_app")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"app_role {role!r} is not a valid role name")
    return str(role)


def isolate(table: str, column: str = "tenant_id") -> None:
    """Enable and force row-level security on `table` with the fail-closed tenant policy."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({column} = {CURRENT_TENANT}) "
               f"WITH CHECK ({column} = {CURRENT_TENANT})")
