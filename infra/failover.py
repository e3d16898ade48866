"""The failover switch: what `active_region` means for traffic, fleets and the database.

One pure function so that the fleets, the database and Traffic Manager flip together from the same
setting; none of them reads `active_region` on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.environment import Cell

PRIORITY_FIRST = 1
PRIORITY_SECOND = 2


@dataclass(frozen=True)
class FleetCapacity:
    """The size of the scale set in one region."""

    region: str
    min: int
    """The autoscale minimum: `fleet.min` where the cell serves, `fleet.standby` in the other region."""
    max: int
    """The autoscale maximum, `fleet.max` in both regions: a standby that Traffic Manager already sends
    traffic to (before anyone flipped the switch) can grow on its own."""


@dataclass(frozen=True)
class FailoverPlan:
    """Which region serves a cell and what every region's resources must look like for that."""

    cell: str
    active_region: str
    """"primary" or "secondary", as set in the environment."""
    serving_region: str
    standby_region: str
    serving_fleet: FleetCapacity
    """The serving region gets the primary's full capacity, whichever region that is."""
    standby_fleet: FleetCapacity
    replica_promoted: bool
    """True once the secondary's read replica has been promoted to a standalone writer."""
    database_writer_region: str
    replica_region: str | None
    """Where a read replica of the writer lives (or is rebuilt after a failover); None without one."""
    priorities: dict[str, int]
    """Traffic Manager priority per region: 1 serves, 2 takes over when 1 is unhealthy."""

    def fleet_in(self, region: str) -> FleetCapacity:
        """The fleet capacity of `region` (one of the cell's two Azure regions)."""
        for fleet in (self.serving_fleet, self.standby_fleet):
            if fleet.region == region:
                return fleet
        raise ValueError(f"cell {self.cell}: {region!r} is neither its serving region {self.serving_region} "
                         f"nor its standby region {self.standby_region}")


def failover_plan(cell: Cell) -> FailoverPlan:
    """The plan for `cell` as its `active_region` stands.

    `active_region: secondary` promotes the replica, scales the secondary fleet to the primary's
    capacity, shrinks the old primary to the standby size and puts the secondary first in Traffic
    Manager. Setting it back reverses the fleets and priorities; the database then needs a new replica
    in the old primary region (see docs/runbooks/failover.md, "Fail back").
    """
    if cell.active_region not in ("primary", "secondary"):
        raise ValueError(f"cells.{cell.name}.active_region: {cell.active_region!r} is not allowed "
                         "(allowed: primary, secondary)")
    failed_over = cell.active_region == "secondary"
    if failed_over and not cell.database.replica:
        raise ValueError(f"cells.{cell.name}.active_region: 'secondary' needs database.replica: true "
                         "(there is no replica to promote)")
    serving, standby = cell.serving_region, (cell.primary_region if failed_over else cell.secondary_region)
    fleet = cell.fleet
    return FailoverPlan(
        cell=cell.name,
        active_region=cell.active_region,
        serving_region=serving,
        standby_region=standby,
        serving_fleet=FleetCapacity(serving, fleet.min, fleet.max),
        standby_fleet=FleetCapacity(standby, fleet.standby, fleet.max),
        replica_promoted=failed_over,
        database_writer_region=serving,
        replica_region=standby if cell.database.replica else None,
        priorities={serving: PRIORITY_FIRST, standby: PRIORITY_SECOND},
    )
