"""slotstack booking service: multi-tenant appointment booking on PostgreSQL."""

__version__ = "0.1.0"
