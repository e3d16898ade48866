"""Where availability tests run from: Azure's test location ids and the continent of each.

Azure names some locations after a place they are no longer in (``us-fl-mia-edge`` is Central US,
``emea-au-syd-edge`` is Australia East), so the table keeps the Azure region next to the id and the
continent is that of the region. A probe carries no customer data: it only requests public pages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestLocation:
    """One availability-test location."""

    id: str
    """Azure's location id, as the web test's ``locations[].Id`` wants it."""
    azure_region: str
    """The Azure region the probes run in."""
    continent: str


TEST_LOCATIONS: tuple[TestLocation, ...] = (
    TestLocation("us-va-ash-azr", "eastus", "North America"),
    TestLocation("us-ca-sjc-azr", "westus", "North America"),
    TestLocation("us-tx-sn1-azr", "southcentralus", "North America"),
    TestLocation("us-il-ch1-azr", "northcentralus", "North America"),
    TestLocation("us-fl-mia-edge", "centralus", "North America"),
    TestLocation("latam-br-gru-edge", "brazilsouth", "South America"),
    TestLocation("emea-nl-ams-azr", "westeurope", "Europe"),
    TestLocation("emea-gb-db3-azr", "northeurope", "Europe"),
    TestLocation("emea-fr-pra-edge", "francecentral", "Europe"),
    TestLocation("emea-ch-zrh-edge", "francesouth", "Europe"),
    TestLocation("emea-se-sto-edge", "ukwest", "Europe"),
    TestLocation("emea-ru-msa-edge", "uksouth", "Europe"),
    TestLocation("apac-sg-sin-azr", "southeastasia", "Asia"),
    TestLocation("apac-hk-hkn-azr", "eastasia", "Asia"),
    TestLocation("apac-jp-kaw-edge", "japaneast", "Asia"),
    TestLocation("emea-au-syd-edge", "australiaeast", "Oceania"),
)
BY_ID: dict[str, TestLocation] = {location.id: location for location in TEST_LOCATIONS}

# The continent of a residency's customers: its probes come first so that a local outage is seen.
HOME_CONTINENT = {"us": "North America", "eu": "Europe", "au": "Oceania"}
MIN_CONTINENTS = 3


def continent_of(location_id: str) -> str:
    """The continent an Azure test location id probes from."""
    try:
        return BY_ID[location_id].continent
    except KeyError:
        raise ValueError(f"unknown availability test location {location_id!r}; "
                         f"known: {', '.join(BY_ID)}") from None


def pick_locations(residency: str, count: int) -> list[str]:
    """`count` location ids, one continent at a time starting with the residency's own.

    Round-robin over continents spreads the probes as widely as possible, so that "failed from
    count - 2 locations" means the cell is down, not one continent's network.
    """
    if not MIN_CONTINENTS <= count <= len(TEST_LOCATIONS):
        raise ValueError(f"alerts.availability_locations: {count} is out of range; Azure offers "
                         f"{len(TEST_LOCATIONS)} locations and {MIN_CONTINENTS}+ continents are needed")
    home = HOME_CONTINENT.get(residency)
    if home is None:
        raise ValueError(f"residency {residency!r} has no home continent; known: {', '.join(HOME_CONTINENT)}")
    continents: list[str] = []
    for location in TEST_LOCATIONS:
        if location.continent not in continents:
            continents.append(location.continent)
    continents.remove(home)
    continents.insert(0, home)
    queues = {c: [loc.id for loc in TEST_LOCATIONS if loc.continent == c] for c in continents}
    picked: list[str] = []
    while len(picked) < count:  # bounded: every round takes at least one id and count <= table size
        for continent in continents:
            if queues[continent] and len(picked) < count:
                picked.append(queues[continent].pop(0))
    return picked
