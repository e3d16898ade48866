"""Initial schema: tenants, staff, services, availability, bookings, busy blocks; RLS on every tenant table.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op

from booking.migrations.tenancy import app_role, isolate

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Tables whose rows belong to one tenant; each gets RLS enabled, forced, and the isolation policy.
TENANT_TABLES = (
    "users", "api_tokens", "staff", "availability_rules", "availability_overrides", "services",
    "service_staff", "questions", "customers", "bookings", "calendar_feeds", "busy_blocks",
)


SCHEMA = """
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Global routing data: which cell a slug lives in. No customer data, so it is readable without a tenant.
CREATE TABLE tenant_directory (
    slug text PRIMARY KEY,
    tenant_id uuid NOT NULL UNIQUE,
    home_cell text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    home_cell text NOT NULL,
    residency text NOT NULL,
    timezone text NOT NULL,
    plan text NOT NULL DEFAULT 'free',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    email text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE api_tokens (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    token_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE staff (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    timezone text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE availability_rules (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    staff_id uuid NOT NULL,
    weekday smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_minute smallint NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute smallint NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE,
    CHECK (start_minute < end_minute)
);

-- All rows of one (staff, day) replace the weekly hours of that day; a row with NULL minutes = closed.
CREATE TABLE availability_overrides (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    staff_id uuid NOT NULL,
    day date NOT NULL,
    start_minute smallint CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute smallint CHECK (end_minute BETWEEN 1 AND 1440),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE,
    CHECK ((start_minute IS NULL) = (end_minute IS NULL)),
    CHECK (start_minute IS NULL OR start_minute < end_minute)
);

CREATE TABLE services (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 1440),
    buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 1440),
    buffer_after_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 1440),
    min_notice_minutes integer NOT NULL DEFAULT 0 CHECK (min_notice_minutes >= 0),
    horizon_days integer NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 1 AND 3650),
    slot_interval_minutes integer NOT NULL CHECK (slot_interval_minutes BETWEEN 5 AND 1440),
    max_per_day integer CHECK (max_per_day > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE service_staff (
    tenant_id uuid NOT NULL,
    service_id uuid NOT NULL,
    staff_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, service_id, staff_id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES services(tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE questions (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    key text NOT NULL,
    label text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('text', 'choice')),
    choices text[] NOT NULL DEFAULT '{}',
    required boolean NOT NULL DEFAULT false,
    position integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key)
);

CREATE TABLE customers (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    email text NOT NULL,
    phone text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE bookings (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    service_id uuid NOT NULL,
    staff_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- the appointment widened by the service's buffers, half-open; what the exclusion constraint compares
    blocked tstzrange NOT NULL,
    answers jsonb NOT NULL DEFAULT '{}',
    idempotency_key text,
    request_hash text,
    created_at timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES services(tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers(tenant_id, id) ON DELETE CASCADE,
    CHECK (starts_at < ends_at),
    CHECK (lower_inc(blocked) AND NOT upper_inc(blocked)
           AND lower(blocked) <= starts_at AND upper(blocked) >= ends_at),
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (tenant_id WITH =, staff_id WITH =, blocked WITH &&)
        WHERE (status IN ('pending', 'confirmed'))
);
CREATE UNIQUE INDEX bookings_idempotency_key ON bookings (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX bookings_staff_start ON bookings (tenant_id, staff_id, starts_at);

CREATE TABLE calendar_feeds (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    staff_id uuid NOT NULL,
    source text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, staff_id, source),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE
);

-- Only what availability needs from a connected calendar: summary, start, end and source UID.
CREATE TABLE busy_blocks (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    staff_id uuid NOT NULL,
    feed_id uuid NOT NULL,
    source_uid text NOT NULL,
    summary text NOT NULL DEFAULT '',
    period tstzrange NOT NULL CHECK (NOT isempty(period)),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, feed_id) REFERENCES calendar_feeds(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX busy_blocks_period ON busy_blocks USING gist (tenant_id, staff_id, period);
"""



def upgrade() -> None:
    app = app_role()
    op.execute(SCHEMA)
    isolate("tenants", column="id")
    for table in TENANT_TABLES:
        isolate(table)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {app}")
    tables = ", ".join(("tenants", *TENANT_TABLES))
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {app}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON tenant_directory TO {app}")
    op.execute(f"GRANT SELECT ON alembic_version TO {app}")


def downgrade() -> None:
    for table in reversed(("tenant_directory", "tenants", *TENANT_TABLES)):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
