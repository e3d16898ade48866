"""Alembic environment: migrations are raw SQL run online as the owner role."""

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool

# A migration waiting for a table lock blocks every request queued behind it; give up instead (the next
# start retries) rather than stall the cell behind one long transaction.
LOCK_TIMEOUT = "15s"

config = context.config
libpq_url = config.attributes.get("libpq_url")
if libpq_url:
    # psycopg (libpq) connects, not SQLAlchemy's URL parser: that cannot read the cloud's multi-host URLs
    # (host1:5432,host2:5432 with target_session_attrs=read-write)
    engine = create_engine("postgresql+psycopg://", poolclass=pool.NullPool,
                           creator=lambda: psycopg.connect(libpq_url, options=f"-c lock_timeout={LOCK_TIMEOUT}"))
else:  # alembic's own command line, with sqlalchemy.url set
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run `booking migrate --database-url postgresql://OWNER@HOST/DB`")
    engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
