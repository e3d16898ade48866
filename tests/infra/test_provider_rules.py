"""Provider rules: what Azure refuses is refused by `slotstack validate`, avoided by the program and
refused by the policy pack, from one set of documented facts (infra/provider)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import cli, environment, mocks
from infra.network.addressing import POSTGRES_PORT, region_plan
from infra.network.nsg_rules import database_rules
from infra.provider import diagnostics, regions, vm_sizes
from policy.rules import provider_rules, restricted_regions
from tests.plans import of_cell

ENV_DIR = environment.ENVIRONMENTS_DIR
ZONAL = ("azure-native:compute:VirtualMachineScaleSet", "azure-native:network:ApplicationGateway",
         "azure-native:network:PublicIPAddress")


def _mutated(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    document = yaml.safe_load((ENV_DIR / f"Pulumi.{name}.yaml").read_text(encoding="utf-8"))
    change(document["config"]["slotstack:cells"])
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["validate", str(path)])
    return code, capsys.readouterr().out


# --- defect 1: accelerated networking on a size without it -------------------------------------------------

def test_fleets_have_accelerated_networking_only_where_their_size_supports_it(
        plan_of: Callable[[str], mocks.Plan]) -> None:
    for name in ("dev", "staging", "prod"):
        env = environment.load(name)
        for vmss in mocks_of(plan_of(name), "azure-native:compute:VirtualMachineScaleSet"):
            size = vmss.inputs["sku"]["name"]
            nic = vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
            known = vm_sizes.size(size)
            assert known is not None, f"{name}: {vmss.name} uses {size}, which the size table does not know"
            assert nic["enableAcceleratedNetworking"] is known.accelerated_networking, (
                f"{name}: {vmss.name} ({size}) asks for accelerated networking {nic['enableAcceleratedNetworking']}, "
                f"documented support is {known.accelerated_networking}")
        assert env.cells


def test_b2s_has_no_accelerated_networking_per_the_b_series_page() -> None:
    assert vm_sizes.size("Standard_B2s") == vm_sizes.VmSize(2, "standardBSFamily", accelerated_networking=False)
    b12 = vm_sizes.size("Standard_B12ms")
    assert b12 is not None
    assert b12.accelerated_networking


def test_validate_refuses_accelerated_networking_on_b2s(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _mutated(tmp_path, "dev", lambda cells: cells["us"]["fleet"].update(accelerated_networking=True))
    code, out = _validate(path, capsys)
    assert code == 1
    assert "cells.us.fleet.accelerated_networking: true, but Standard_B2s does not support accelerated" in out
    assert "Standard_D2s_v5" in out, "the message names sizes that would work"


def test_validate_refuses_a_size_it_cannot_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _mutated(tmp_path, "dev", lambda cells: cells["us"]["fleet"].update(vm_size="Standard_Z9s_v9"))
    code, out = _validate(path, capsys)
    assert code == 1
    assert "cells.us.fleet.vm_size: 'Standard_Z9s_v9' is not in infra/provider/vm_sizes.py" in out


def test_policy_refuses_accelerated_networking_on_a_size_without_it(plan_of: Callable[[str], mocks.Plan]) -> None:
    vmss = mocks_of(plan_of("prod"), "azure-native:compute:VirtualMachineScaleSet")[0]
    props = _with_size(vmss.inputs, "Standard_B2s", accelerated=True)
    found = provider_rules.check(vmss.type, props)
    assert any("enableAcceleratedNetworking is true but Standard_B2s does not support it" in m for m in found), found
    assert provider_rules.check(vmss.type, _with_size(vmss.inputs, "Standard_B2s", accelerated=False)) == []


# --- defect 2: zones in zoneless regions; restricted regions -------------------------------------------------

def test_no_zones_are_sent_to_a_region_without_them(plan_of: Callable[[str], mocks.Plan]) -> None:
    seen_zoneless = set()
    for name in ("dev", "staging", "prod"):
        for resource in plan_of(name).resources:
            if resource.type not in ZONAL or not isinstance(resource.location, str):
                continue
            zones = resource.inputs.get("zones")
            if regions.has_zones(resource.location):
                # The NAT gateway is regional (no zones), so is its address; the rest spreads over all zones.
                if not resource.name.endswith("-pip-nat"):
                    assert zones == ["1", "2", "3"], f"{name}: {resource.name} in {resource.location} is not zonal"
            else:
                seen_zoneless.add(resource.location)
                assert not zones, f"{name}: {resource.name} sends zones {zones} to zoneless {resource.location}"
    assert {"germanynorth", "australiasoutheast"} <= seen_zoneless, "the standby regions were checked"


def test_the_standby_scale_set_in_a_zoneless_region_has_no_zone_balance(plan_of: Callable[[str], mocks.Plan]) -> None:
    standby = [v for v in of_cell(plan_of("prod"), "au", "azure-native:compute:VirtualMachineScaleSet")
               if v.location == "australiasoutheast"]
    assert standby, "prod au keeps a standby fleet in australiasoutheast"
    assert "zoneBalance" not in standby[0].inputs
    assert standby[0].inputs["upgradePolicy"]["rollingUpgradePolicy"]["enableCrossZoneUpgrade"] is False


def test_region_facts_match_the_regions_list() -> None:
    assert not regions.has_zones("germanynorth")
    assert regions.is_restricted("germanynorth")
    assert not regions.has_zones("australiasoutheast")
    assert not regions.is_restricted("australiasoutheast")
    assert regions.zones_of("westeurope") == ["1", "2", "3"]
    assert regions.zones_of("somewhere-new") == [], "an unknown region gets no zones: the safe default"


def test_validate_warns_about_the_restricted_standby_region(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _validate(ENV_DIR / "Pulumi.staging.yaml", capsys)
    assert code == 0
    assert ("warning: environments/Pulumi.staging.yaml: cells.eu.secondary_region: 'germanynorth' is an "
            "access-restricted region") in out


def test_validate_refuses_zone_redundant_database_in_a_zoneless_region(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def change(cells: dict[str, Any]) -> None:
        cells["au"]["active_region"] = "secondary"

    code, out = _validate(_mutated(tmp_path, "prod", change), capsys)
    assert code == 1
    assert ("cells.au.database.ha: 'ZoneRedundant' needs availability zones, but the secondary region "
            "'australiasoutheast' has none") in out


def test_validate_refuses_a_zoneless_primary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(cells: dict[str, Any]) -> None:
        cells["us"].update(primary_region="westus", secondary_region="eastus")

    code, out = _validate(_mutated(tmp_path, "dev", change), capsys)
    assert code == 1
    assert "cells.us.primary_region: 'westus' has no availability zones" in out


def test_policy_refuses_zones_in_a_zoneless_region(plan_of: Callable[[str], mocks.Plan]) -> None:
    for type_ in ZONAL:
        resource = next(r for r in plan_of("prod").of_type(type_) if r.location == "australiasoutheast")
        props = {**resource.inputs, "zones": ["1", "2", "3"]}
        found = provider_rules.check(type_, props)
        assert any("australiasoutheast, which has no availability zones" in m for m in found), (type_, found)
        assert provider_rules.check(type_, resource.inputs) == [], f"{resource.name}: the program's own input"


def test_policy_reminds_of_restricted_regions(plan_of: Callable[[str], mocks.Plan]) -> None:
    found = [m for r in plan_of("staging").resources for m in restricted_regions.check(r.type, r.inputs)]
    assert found
    assert all("germanynorth is an access-restricted region" in m for m in found)
    assert not [m for r in plan_of("dev").resources for m in restricted_regions.check(r.type, r.inputs)]


# --- defect 3: diagnostic categories ------------------------------------------------------------------------

def test_every_diagnostic_setting_asks_only_for_categories_its_target_accepts(
        plan_of: Callable[[str], mocks.Plan]) -> None:
    settings = plan_of("prod").of_type("azure-native:monitor:DiagnosticSetting")
    storage = [s for s in settings if "/storageAccounts/" in s.inputs["resourceUri"]]
    assert storage, "storage accounts have diagnostic settings"
    for setting in settings:
        # The mock engine names a Flexible Server's id after the SDK type (.../servers/...): Azure's is flexibleServers.
        target = setting.inputs["resourceUri"].replace("Microsoft.Dbforpostgresql/servers/",
                                                       "Microsoft.DBforPostgreSQL/flexibleServers/")
        assert diagnostics.categories(target) is not None, f"{setting.name}: no documented categories for {target}"
        found = diagnostics.problems(target, setting.inputs.get("logs") or [], setting.inputs.get("metrics") or [])
        assert found == [], f"{setting.name}: {found}"
        assert provider_rules.check(setting.type, {**setting.inputs, "resourceUri": target}) == []


def test_policy_refuses_all_metrics_on_a_storage_account() -> None:
    target = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stbak"
    props = {"resourceUri": target, "metrics": [{"category": "AllMetrics", "enabled": True}],
             "logs": [{"categoryGroup": "allLogs", "enabled": True}]}
    found = provider_rules.check("azure-native:monitor:DiagnosticSetting", props)
    assert any("category 'AllMetrics' is not accepted by microsoft.storage/storageaccounts" in m for m in found)
    assert any("has no log categories" in m for m in found)
    blob = diagnostics.resource_type(target + "/blobServices/default")
    assert blob == "microsoft.storage/storageaccounts/blobservices"


# --- defect 8: the standby fleet reaches the writer ----------------------------------------------------------

def test_database_subnet_admits_postgres_from_both_regions_app_subnets() -> None:
    primary, secondary = region_plan(0, "primary"), region_plan(0, "secondary")
    rules = database_rules(primary, secondary)
    admitted = {r["source_address_prefix"] for r in rules
                if r["access"] == "Allow" and r["destination_port_range"] == str(POSTGRES_PORT)}
    assert secondary.prefix("app") in admitted, "the standby fleet in the other region migrates against the writer"
    assert primary.prefix("app") in admitted


def test_planned_database_nsgs_admit_the_peer_fleet(plan_of: Callable[[str], mocks.Plan]) -> None:
    nsgs = [n for n in plan_of("staging").of_type("azure-native:network:NetworkSecurityGroup")
            if n.name.endswith("-nsg-database")]
    assert nsgs
    for nsg in nsgs:
        names = {r["name"] for r in nsg.inputs["securityRules"]}
        assert "AllowPostgresFromPeerApp" in names, nsg.name


# --- helpers ------------------------------------------------------------------------------------------------

def mocks_of(plan: mocks.Plan, type_: str) -> list[mocks.Recorded]:
    return plan.of_type(type_)


def _with_size(props: dict[str, Any], size: str, *, accelerated: bool) -> dict[str, Any]:
    profile = props["virtualMachineProfile"]
    nic = {**profile["networkProfile"]["networkInterfaceConfigurations"][0], "enableAcceleratedNetworking": accelerated}
    return {**props, "sku": {**props["sku"], "name": size},
            "virtualMachineProfile": {**profile, "networkProfile": {**profile["networkProfile"],
                                                                     "networkInterfaceConfigurations": [nic]}}}


def test_policy_refuses_zone_redundant_storage_and_database_ha_in_a_zoneless_region(
        plan_of: Callable[[str], mocks.Plan]) -> None:
    plan = plan_of("prod")
    account = plan.of_type("azure-native:storage:StorageAccount")[0]
    moved = {**account.inputs, "location": "australiasoutheast"}
    assert any("sku Standard_GZRS needs availability zones" in m
               for m in provider_rules.check(account.type, moved)), account.inputs["sku"]
    server = next(s for s in plan.of_type("azure-native:dbforpostgresql:Server")
                  if s.inputs.get("highAvailability", {}).get("mode") == "ZoneRedundant")
    moved = {**server.inputs, "location": "germanynorth"}
    found = provider_rules.check(server.type, moved)
    assert any("highAvailability.mode 'ZoneRedundant' in germanynorth" in m for m in found), found
    assert any("zones ['1'] in germanynorth" in m for m in found), "the pinned availabilityZone too"
