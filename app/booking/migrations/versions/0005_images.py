"""Images: tenant logos and staff photos, uploaded directly to the cell's image store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import re

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"

SCHEMA = """
CREATE TABLE images (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('logo', 'staff_photo')),
    staff_id uuid,
    key text NOT NULL,
    content_type text NOT NULL,
    size integer NOT NULL CHECK (size > 0),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE,
    CHECK ((kind = 'staff_photo') = (staff_id IS NOT NULL))
);
"""


def upgrade() -> None:
    role = context.get_x_argument(as_dictionary=True).get("app_role") or context.config.attributes.get(
        "app_role", "booking_app")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"app_role {role!r} is not a valid role name")
    op.execute(SCHEMA)
    op.execute("ALTER TABLE images ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE images FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON images USING (tenant_id = {CURRENT_TENANT}) "
               f"WITH CHECK (tenant_id = {CURRENT_TENANT})")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON images TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS images CASCADE")
