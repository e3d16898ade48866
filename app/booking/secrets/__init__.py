"""Secrets at rest: the key store of tenant data keys, sealing of integration tokens, Key Vault."""
