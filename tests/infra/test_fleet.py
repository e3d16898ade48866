"""The fleets: scale sets, identities and autoscale, for dev, staging and prod (the release: test_release_rollout)."""

from __future__ import annotations

import base64
from typing import Any

import yaml

from infra import environment, mocks
from infra.cell import fleet_sizes
from infra.network.addressing import APP_PORT
from infra.provider import regions
from tests.plans import TEST_SSH_KEY, by_id, of_cell

VMSS = "azure-native:compute:VirtualMachineScaleSet"
ROLE = "azure-native:authorization:RoleAssignment"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
Env = tuple[environment.Environment, mocks.Plan]


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, leaf) of a nested input, to look for things that must not be anywhere."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _walk(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _walk(item, f"{path}[{i}]")]
    return [(path, value)]


def _cloud_config(vmss: mocks.Recorded) -> dict[str, Any]:
    raw = base64.b64decode(vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert raw.startswith("#cloud-config\n"), f"{vmss.name}: custom data is not cloud-config"
    document: dict[str, Any] = yaml.safe_load(raw)
    return document


def _region_role(cell: environment.Cell, region: str | None) -> str:
    return "primary" if region == cell.primary_region else "secondary"


def test_scale_sets_per_fleet_region_with_sizes_from_the_environment(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells.values():
        sets = of_cell(plan, cell.name, VMSS)
        sizes = {_region_role(cell, s.location): s.inputs["sku"]["capacity"] for s in sets}
        assert sizes == {role: lo for role, (lo, _hi) in fleet_sizes(cell).items()}
        for s in sets:
            assert s.inputs["sku"]["name"] == cell.fleet.vm_size
        if cell.fleet.standby:
            assert sizes["secondary"] == cell.fleet.standby, f"{cell.name}: standby fleet size"
        else:
            assert "secondary" not in sizes


def test_scale_set_is_flexible_zonal_ubuntu_2404_with_rolling_upgrades_and_repairs(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for vmss in of_cell(plan, cell, VMSS):
            assert vmss.inputs["orchestrationMode"] == "Flexible"
            expected = regions.zones_of(vmss.location or "") or None
            assert vmss.inputs.get("zones") == expected, f"{vmss.name}: zones guardrail broken"
            image = vmss.inputs["virtualMachineProfile"]["storageProfile"]["imageReference"]
            assert (image["publisher"], image["offer"], image["sku"]) == ("Canonical", "ubuntu-24_04-lts", "server")
            assert vmss.inputs["upgradePolicy"]["mode"] == "Rolling"
            rolling = vmss.inputs["upgradePolicy"]["rollingUpgradePolicy"]
            assert 0 < rolling["maxBatchInstancePercent"] <= 50
            assert vmss.inputs["automaticRepairsPolicy"]["enabled"] is True


def test_no_password_ssh_keys_only_encryption_at_host_trusted_launch(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for vmss in of_cell(plan, cell, VMSS):
            profile = vmss.inputs["virtualMachineProfile"]
            linux = profile["osProfile"]["linuxConfiguration"]
            assert linux["disablePasswordAuthentication"] is True, f"{vmss.name}: password authentication allowed"
            assert "adminPassword" not in profile["osProfile"]
            assert [k["keyData"] for k in linux["ssh"]["publicKeys"]] == [TEST_SSH_KEY]
            security = profile["securityProfile"]
            assert security["encryptionAtHost"] is True, f"{vmss.name}: encryption at host guardrail broken"
            assert security["securityType"] == "TrustedLaunch"
            assert security["uefiSettings"] == {"secureBootEnabled": True, "vTpmEnabled": True}


def test_no_instance_has_a_public_ip(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells:
        for vmss in of_cell(plan, cell, VMSS):
            for path, _ in _walk(vmss.inputs):
                assert "publicIPAddressConfiguration" not in path, f"{vmss.name}: instances get a public IP ({path})"
            for nic in vmss.inputs["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
                for ip in nic["ipConfigurations"]:
                    assert ids[ip["subnet"]["id"]].inputs["subnetName"] == "app"
    # Public IPs exist only for gateways, the NAT gateway and Bastion.
    for ip in plan.of_type("azure-native:network:PublicIPAddress"):
        assert ip.name.endswith(("-gw-primary-pip", "-gw-secondary-pip", "-pip-nat", "-pip-bastion")), \
            f"{ip.name}: a public IP that is not the gateway's, the NAT's or Bastion's"


def test_health_extension_probes_healthz_on_the_service_port(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for vmss in of_cell(plan, cell, VMSS):
            extensions = vmss.inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
            [health] = [e for e in extensions if e["type"] == "ApplicationHealthLinux"]
            assert health["publisher"] == "Microsoft.ManagedServices"
            assert health["settings"]["requestPath"] == "/healthz"
            assert health["settings"]["port"] == APP_PORT
            assert health["settings"]["protocol"] == "http"


def test_role_assignments_are_scoped_to_the_cells_own_container_and_vault(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells:
        [vault] = of_cell(plan, cell, "azure-native:keyvault:Vault")
        # The fleet reads its release containers; the backup container is not the fleet's to read.
        containers = {c.id for c in of_cell(plan, cell, "azure-native:storage:BlobContainer")
                      if "-release-" in c.name}
        fleet_identities = {i for s in of_cell(plan, cell, VMSS)
                            for i in s.inputs["identity"]["userAssignedIdentities"]}
        [fleet_identity] = fleet_identities
        principal = f"principal-{ids[fleet_identity].name}"
        grants = {(g.inputs["roleDefinitionId"].rsplit("/", 1)[-1], g.inputs["scope"])
                  for g in of_cell(plan, cell, ROLE) if g.inputs["principalId"] == principal}
        assert grants == {(SECRETS_USER, vault.id)} | {(BLOB_READER, c) for c in containers}, \
            f"{cell}: fleet identity must read only its own release container(s) and vault"
        for grant in of_cell(plan, cell, ROLE):
            scope = grant.inputs["scope"]
            assert scope in containers | {vault.id}, f"{grant.name}: scoped to {scope}, outside the cell's resources"
            assert grant.inputs["principalType"] == "ServicePrincipal"
        names = [g.inputs["roleAssignmentName"] for g in plan.of_type(ROLE)]
        assert len(names) == len(set(names)), "role assignment names must be unique"


def test_autoscale_on_cpu_within_the_environment_limits(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells.values():
        sets = {s.id: s for s in of_cell(plan, cell.name, VMSS)}
        settings = of_cell(plan, cell.name, "azure-native:monitor:AutoscaleSetting")
        assert {a.inputs["targetResourceUri"] for a in settings} == set(sets)
        for setting in settings:
            vmss = sets[setting.inputs["targetResourceUri"]]
            low, high = fleet_sizes(cell)[_region_role(cell, vmss.location)]
            [profile] = setting.inputs["profiles"]
            assert profile["capacity"] == {"minimum": str(low), "maximum": str(high), "default": str(low)}
            assert setting.inputs["enabled"] is True
            assert setting.location == vmss.location
            triggers = {(r["metricTrigger"]["metricName"], r["metricTrigger"]["operator"],
                         r["scaleAction"]["direction"])
                        for r in profile["rules"]}
            assert triggers == {("Percentage CPU", "GreaterThan", "Increase"),
                                ("Percentage CPU", "LessThan", "Decrease")}
            assert all(r["metricTrigger"]["metricResourceUri"] == vmss.id for r in profile["rules"])
