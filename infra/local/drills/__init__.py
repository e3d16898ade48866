"""Disaster-recovery drills against a running local stack: failover, backups, point-in-time restores."""
