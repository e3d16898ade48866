"""Subcommands of `slotstack`; each module registers one (see infra/cli.py)."""
