"""Team accounts: staff-role users linked to a staff member, and owner invitations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = """
-- An invited user has no password until they accept; sign-in refuses them until then.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;

ALTER TABLE users
    -- the staff member this account is (a staff user manages that staff member's hours and bookings)
    ADD COLUMN staff_id uuid,
    -- keyed hash of the one-time invitation token, like every other secret here; NULL once accepted
    ADD COLUMN invite_hash text,
    ADD COLUMN invite_expires_at timestamptz,
    -- composite, so an account can only ever point at a staff member of its own tenant; removing the
    -- staff member keeps the account (SET NULL on staff_id only, never on tenant_id)
    ADD FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE SET NULL (staff_id),
    ADD UNIQUE (tenant_id, invite_hash),
    ADD CHECK ((invite_hash IS NULL) = (invite_expires_at IS NULL)),
    ADD CHECK (password_hash IS NOT NULL OR invite_hash IS NOT NULL);

-- one account per staff member: two logins acting as one person would make the audit log ambiguous
CREATE UNIQUE INDEX users_one_account_per_staff ON users (tenant_id, staff_id) WHERE staff_id IS NOT NULL;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("DROP INDEX users_one_account_per_staff")
    # row-level security is forced on users, for the owner too: lift it for the one cross-tenant delete
    op.execute("ALTER TABLE users NO FORCE ROW LEVEL SECURITY")
    op.execute("DELETE FROM users WHERE password_hash IS NULL")
    op.execute("ALTER TABLE users FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE users DROP COLUMN staff_id, DROP COLUMN invite_hash, DROP COLUMN invite_expires_at")
    op.execute("ALTER TABLE users ALTER COLUMN password_hash SET NOT NULL")
