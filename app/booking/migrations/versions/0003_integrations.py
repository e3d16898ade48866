"""Integrations with encrypted refresh tokens; plan changes and cancellation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op

from booking.migrations.tenancy import app_role, isolate

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


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



def upgrade() -> None:
    app = app_role()
    op.execute(SCHEMA)
    isolate("integrations")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON integrations TO {app}")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS integrations CASCADE")
    op.execute("ALTER TABLE tenants DROP COLUMN cancelled_at")
