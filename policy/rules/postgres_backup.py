"""PostgreSQL keeps at least 30 days of backups, geo-redundantly, wherever real tenants' data lives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import NON_PRODUCTION_ENVIRONMENTS, dig, is_production_data

NAME = "postgres-backup-retention"
DESCRIPTION = ("PostgreSQL primary servers keep backups >= 30 days with geo-redundant backup enabled "
               f"(not applied to resources tagged environment={'/'.join(NON_PRODUCTION_ENVIRONMENTS)}).")
SERVER = "azure-native:dbforpostgresql:Server"
MIN_DAYS = 30


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    # A replica's backups are its source's; Azure ignores backup settings given to a replica.
    if type_ != SERVER or props.get("createMode") == "Replica" or not is_production_data(props):
        return []
    problems = []
    days = dig(props, "backup.backupRetentionDays")
    if not isinstance(days, int | float) or days < MIN_DAYS:
        problems.append(f"backup.backupRetentionDays is {days!r}: a restore must reach back at least "
                        f"{MIN_DAYS} days; set it to 35")
    if dig(props, "backup.geoRedundantBackup") != "Enabled":
        problems.append(f"backup.geoRedundantBackup is {dig(props, 'backup.geoRedundantBackup')!r}: a regional "
                        "outage would take the backups with it; set it to Enabled (the copy goes to the paired "
                        "region, inside the geography)")
    return problems
