"""Slug claims: a signup reserves its slug in every cell for a minute before it creates the tenant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from alembic import op

from booking.migrations.tenancy import app_role

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Not tenant data (like tenant_directory): which cell is about to create a tenant under a slug. A claim
# only blocks other cells' signups of that slug until it expires; the tenant itself is the lasting record.
SCHEMA = """
CREATE TABLE slug_claims (
    slug text PRIMARY KEY,
    cell text NOT NULL,
    expires_at timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON slug_claims TO {app_role()}")


def downgrade() -> None:
    op.execute("DROP TABLE slug_claims")
