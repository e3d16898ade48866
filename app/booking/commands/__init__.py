"""The `booking` command and its subcommands (serve, migrate, create-tenant, tenant, keys, demo)."""
