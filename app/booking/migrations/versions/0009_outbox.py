"""A transactional outbox for email: committed with the booking, sent by a worker.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

from booking.migrations.tenancy import app_role, isolate

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = """
-- how long before an appointment its reminder goes out (0: no reminder)
ALTER TABLE tenants ADD COLUMN reminder_minutes integer NOT NULL DEFAULT 1440
    CHECK (reminder_minutes BETWEEN 0 AND 20160);

CREATE TABLE outbox (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    kind text NOT NULL,
    booking_id uuid,
    -- the rendered message; NULL once sent, so the personal data in it leaves the database with it
    message bytea,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    send_after timestamptz NOT NULL,
    -- not worth sending from then on (a reminder once the appointment has begun)
    stale_after timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    lease_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_booking ON outbox (tenant_id, booking_id) WHERE booking_id IS NOT NULL;

-- Global and free of personal data (like tenant_directory): which tenant has a message due when. The worker
-- cannot see across tenants (row-level security), so it reads this, then opens each tenant's transaction.
CREATE TABLE outbox_due (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    message_id uuid NOT NULL,
    due_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX outbox_due_at ON outbox_due (due_at);
"""


def upgrade() -> None:
    op.execute(SCHEMA)
    isolate("outbox")
    app = app_role()
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON outbox, outbox_due TO {app}")


def downgrade() -> None:
    op.execute("DROP TABLE outbox_due")
    op.execute("DROP TABLE outbox")
    op.execute("ALTER TABLE tenants DROP COLUMN reminder_minutes")
