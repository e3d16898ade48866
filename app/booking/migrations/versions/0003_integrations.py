"""Integrations with encrypted refresh tokens; plan changes and cancellation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import re

from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"

SCHEMA = """
ALTER TABLE tenants ADD COLUMN cancelled_at timestamptz;

-- refresh_token: AES-256-GCM under the tenant's data key (booking.sealing); never stored in clear.
CREATE TABLE integrations (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL,
    provider text NOT NULL,
    refresh_token bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
"""


def _app_role() -> str:
    role = context.get_x_argument(as_dictionary=True).get("app_role") or context.config.attributes.get(
        "app_role", "booking_app")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"app_role {role!r} is not a valid role name")
    return role


def upgrade() -> None:
    app = _app_role()
    op.execute(SCHEMA)
    op.execute("ALTER TABLE integrations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE integrations FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON integrations USING (tenant_id = {CURRENT_TENANT}) "
               f"WITH CHECK (tenant_id = {CURRENT_TENANT})")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON integrations TO {app}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS integrations CASCADE")
    op.execute("ALTER TABLE tenants DROP COLUMN cancelled_at")
