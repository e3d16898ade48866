"""Images: tenant logos and staff photos, uploaded directly to the cell's image store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from alembic import op

from booking.migrations.tenancy import app_role, isolate

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


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
    role = app_role()
    op.execute(SCHEMA)
    isolate("images")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON images TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS images CASCADE")
