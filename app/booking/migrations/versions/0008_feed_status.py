"""Calendar feeds are fetched in the background: each URL feed keeps its status for the API.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# status: pending until the first fetch finishes, then ok or failed; a failed fetch keeps the feed's previous
# busy blocks, so last_fetched_at says how old they are and last_error what went wrong since.
SCHEMA = """
ALTER TABLE calendar_feeds
    ADD COLUMN status text NOT NULL DEFAULT 'ok' CHECK (status IN ('pending', 'ok', 'failed')),
    ADD COLUMN last_attempt_at timestamptz,
    ADD COLUMN last_fetched_at timestamptz,
    ADD COLUMN last_error text;
UPDATE calendar_feeds SET last_fetched_at = imported_at, last_attempt_at = imported_at;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute("ALTER TABLE calendar_feeds DROP COLUMN status, DROP COLUMN last_attempt_at, "
               "DROP COLUMN last_fetched_at, DROP COLUMN last_error")
