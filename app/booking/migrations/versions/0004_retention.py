"""Per-tenant retention of bookings and customers; erasing a tenant removes its directory entry.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from alembic import op

from booking.migrations.tenancy import app_role

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: keep until the business erases them; otherwise days after a booking's end
    op.execute("ALTER TABLE tenants ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 30 AND 3650)")
    role = app_role()
    op.execute(f"GRANT DELETE ON tenant_directory TO {role}")


def downgrade() -> None:
    op.execute("ALTER TABLE tenants DROP COLUMN retention_days")
