"""A cell's local databases: PostgreSQL nodes and the primary/standby pair they form."""
