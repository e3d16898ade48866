"""The fleets: release blob, scale sets, custom data, identities and autoscale, for dev, staging and prod."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from infra import environment, mocks, program
from infra.cell import fleet_sizes
from infra.compute import cloud_init
from infra.compute.settings import DeploySettings, Wheel
from infra.network.addressing import APP_PORT
from tests.infra.conftest import FIXTURE_BOOTSTRAP, FIXTURE_UNIT, TEST_SSH_KEY, by_id, make_wheel, of_cell

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
            assert vmss.inputs["zones"] == ["1", "2", "3"], f"{vmss.name}: zones guardrail broken"
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


def test_custom_data_runs_bootstrap_with_the_uploaded_wheel_and_holds_no_secret(
        env_plan: Env, fixture_wheel: Wheel) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells.values():
        [vault] = of_cell(plan, cell.name, "azure-native:keyvault:Vault")
        for vmss in of_cell(plan, cell.name, VMSS):
            doc = _cloud_config(vmss)
            files = {f["path"]: base64.b64decode(f["content"]).decode() for f in doc["write_files"]}
            assert files[cloud_init.INSTALL_PATH] == FIXTURE_BOOTSTRAP, "bootstrap.sh must be embedded as is"
            assert files[cloud_init.UNIT_PATH] == FIXTURE_UNIT
            [token, run, cleanup] = doc["runcmd"]
            assert run[run.index("--sha256") + 1] == fixture_wheel.sha256, f"{vmss.name}: wheel sha256 not pinned"
            url = run[run.index("--wheel-url") + 1]
            blobs = [b for b in of_cell(plan, cell.name, "azure-native:storage:Blob") if b.location is None
                     and b.inputs["blobName"] == url.split("/releases/", 1)[1]]
            assert len(blobs) >= 1, f"{vmss.name}: {url} is not an uploaded blob"
            account = url.removeprefix("https://").split(".", 1)[0]
            assert any(b.inputs["accountName"] == account for b in blobs)
            region_account = [a for a in of_cell(plan, cell.name, "azure-native:storage:StorageAccount")
                              if a.inputs["accountName"] == account]
            assert region_account[0].location == vmss.location, "the fleet reads the release of its own region"
            env_args = dict(run[i + 1].split("=", 1) for i, item in enumerate(run) if item == "--env")
            assert env_args["CELL"] == cell.name
            assert env_args["KEY_VAULT_URI"] == f"https://{vault.inputs['vaultName']}.vault.azure.net/"
            assert env_args["CELL_URLS"] == ",".join(f"{c.name}=https://{c.hostname}"
                                                     for c in sorted(env.cells.values(), key=lambda c: c.name))
            [identity_id] = vmss.inputs["identity"]["userAssignedIdentities"]
            assert env_args["AZURE_CLIENT_ID"] == f"client-{ids[identity_id].name}"
            gateways = {s.inputs["addressPrefix"] for s in of_cell(plan, cell.name, "azure-native:network:Subnet")
                        if s.inputs.get("subnetName") == "gateway"}
            assert gateways, f"{cell.name}: no gateway subnet found"
            assert set(env_args["TRUSTED_PROXIES"].split(",")) == gateways, \
                f"{vmss.name}: the service must believe X-Forwarded-For from its gateway subnets only"
            assert token[0] == cloud_init.IMDS_SCRIPT_PATH
            assert cleanup[0] == "rm"
            text = base64.b64decode(vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]).decode()
            for forbidden in ("mock-password", "password=", "AccountKey", "sig=", "PRIVATE KEY", "SECRET_KEY=",
                              "DATABASE_URL="):
                assert forbidden not in text, f"{vmss.name}: custom data holds a secret ({forbidden})"


def test_release_blob_is_versioned_sha256_named_in_a_private_container(env_plan: Env, fixture_wheel: Wheel) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells:
        blobs = of_cell(plan, cell, "azure-native:storage:Blob")
        assert blobs, f"{cell}: no release uploaded"
        for blob in blobs:
            assert blob.inputs["blobName"] == (f"booking/{fixture_wheel.version}/{fixture_wheel.sha256}/"
                                               f"{fixture_wheel.path.name}")
            assert blob.inputs["metadata"]["sha256"] == fixture_wheel.sha256
            assert Path(blob.inputs["source"].path) == fixture_wheel.path
        for container in of_cell(plan, cell, "azure-native:storage:BlobContainer"):
            assert container.inputs["publicAccess"] == "None"
        for account in of_cell(plan, cell, "azure-native:storage:StorageAccount"):
            if not account.name.startswith(f"{cell}-release-"):
                continue
            assert account.inputs["allowBlobPublicAccess"] is False
            assert account.inputs["allowSharedKeyAccess"] is False, "the fleet reads with its identity, no keys"
            assert account.inputs["publicNetworkAccess"] == "Disabled"
            assert account.inputs["minimumTlsVersion"] == "TLS1_2"
            endpoints = [e for e in plan.of_type("azure-native:network:PrivateEndpoint")
                         if e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] == account.id]
            assert len(endpoints) == 1
            assert endpoints[0].inputs["privateLinkServiceConnections"][0]["groupIds"] == ["blob"]
            assert ids[endpoints[0].inputs["subnet"]["id"]].inputs["subnetName"] == "private-endpoints"


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


def test_cloud_init_references_bootstrap_by_path_when_the_script_is_absent(tmp_path: Path) -> None:
    boot = cloud_init.Boot(wheel_url="https://rel.blob.core.windows.net/releases/booking-1.0-py3-none-any.whl",
                           sha256="a" * 64, cell="eu", cell_urls={"eu": "https://eu.example.com"},
                           key_vault_uri="https://kv.vault.azure.net/", client_id="cid")
    doc = yaml.safe_load(cloud_init.render(boot, tmp_path / "missing.sh"))
    assert [f["path"] for f in doc["write_files"]] == [cloud_init.IMDS_SCRIPT_PATH]
    run = doc["runcmd"][1]
    assert cloud_init.REFERENCED_PATH in run
    assert "--unit-file" not in run
    assert run[run.index("--wheel-url") + 1] == boot.wheel_url


def test_a_new_wheel_becomes_a_new_blob_and_new_custom_data_so_it_rolls_through_the_fleet(
        tmp_path: Path, deploy_settings: DeploySettings) -> None:
    env = environment.load("dev")
    plans = []
    for version in ("1.0.0", "1.1.0"):
        (tmp_path / version).mkdir()
        wheel = Wheel.from_file(make_wheel(tmp_path / version, version=version, payload=version.encode()))
        settings = replace(deploy_settings, wheel=wheel)

        def build(settings: DeploySettings = settings) -> None:
            program.build(env, settings)

        plans.append((wheel, mocks.evaluate("dev", build)))
    (old_wheel, old), (new_wheel, new) = plans
    [old_blob], [new_blob] = old.of_type("azure-native:storage:Blob"), new.of_type("azure-native:storage:Blob")
    assert old_blob.name == new_blob.name, "same logical blob: Pulumi replaces it in place"
    assert new_blob.inputs["blobName"] != old_blob.inputs["blobName"]
    assert new_wheel.sha256 in new_blob.inputs["blobName"]
    [old_vmss], [new_vmss] = old.of_type(VMSS), new.of_type(VMSS)
    old_run, new_run = _cloud_config(old_vmss)["runcmd"][1], _cloud_config(new_vmss)["runcmd"][1]
    assert old_run[old_run.index("--sha256") + 1] == old_wheel.sha256
    assert new_run[new_run.index("--sha256") + 1] == new_wheel.sha256
    assert new_vmss.inputs["upgradePolicy"]["mode"] == "Rolling", "the model change rolls batch by batch"
