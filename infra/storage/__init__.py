"""Where customer data lives: PostgreSQL, Key Vault, backup storage, images."""
