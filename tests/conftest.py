"""Fixtures shared across test directories: the Pulumi plans of tests/plans.py serve tests/infra and tests/policy."""

pytest_plugins = ["tests.plans"]
