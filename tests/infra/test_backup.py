"""Backup storage of every committed environment, planned under the mock engine with stand-in ids."""

from __future__ import annotations

import pytest

from infra.environment import load
from infra.mocks import Plan, evaluate
from infra.residency import RESIDENCIES
from infra.storage.backup import BackupStorage, BackupStorageArgs
from tests.infra.datatier import ENVIRONMENTS, backup, datatier_plan

PARTS = (backup,)


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def planned(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, datatier_plan(request.param, PARTS)


def _one(plan: Plan, type_: str, cell: str) -> dict:
    found = [r for r in plan.of_type(type_) if r.name.startswith(f"{cell}-backup-")]
    assert len(found) == 1, f"{cell}: expected one {type_}, found {[r.name for r in found]}"
    return found[0].inputs


def test_account_is_gzrs_private_tls12_and_keyless(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        account = _one(plan, "azure-native:storage:StorageAccount", cell.name)
        where = f"{name}/{cell.name} backup account"
        assert account["sku"]["name"] in ("Standard_GZRS", "Standard_RAGZRS"), f"{where}: copy must stay in the pair"
        assert account["location"] == cell.primary_region
        assert RESIDENCIES[cell.residency].pair_of(cell.primary_region) == cell.secondary_region, (
            f"{where}: the GZRS secondary ({cell.secondary_region}) must be the pair inside {cell.residency}")
        assert account["minimumTlsVersion"] == "TLS1_2", f"{where}: TLS minimum"
        assert account["enableHttpsTrafficOnly"] is True, f"{where}: HTTPS only"
        assert account["allowBlobPublicAccess"] is False, f"{where}: blob public access"
        assert account["allowSharedKeyAccess"] is False, f"{where}: shared-key access"
        assert account["publicNetworkAccess"] == "Disabled", f"{where}: public network access"
        assert account["networkRuleSet"]["defaultAction"] == "Deny"
        assert account["encryption"]["requireInfrastructureEncryption"] is True, f"{where}: infra encryption"
        assert account["tags"]["cell"] == cell.name
        assert account["tags"]["residency"] == cell.residency


def test_versioning_and_soft_delete(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        blob = _one(plan, "azure-native:storage:BlobServiceProperties", cell.name)
        assert blob["isVersioningEnabled"] is True, f"{name}/{cell.name}: blob versioning is off"
        assert blob["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
        assert blob["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}


def test_backups_container_is_immutable_for_90_days(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        container = _one(plan, "azure-native:storage:BlobContainer", cell.name)
        assert container["containerName"] == "backups"
        assert container["publicAccess"] == "None"
        policy = _one(plan, "azure-native:storage:BlobContainerImmutabilityPolicy", cell.name)
        assert policy["immutabilityPeriodSinceCreationInDays"] == 90, f"{name}/{cell.name}: WORM period"
        assert policy["containerName"] == "backups"
        assert policy["allowProtectedAppendWrites"] is False


def test_lifecycle_cools_after_30_and_deletes_after_400_days(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        rules = _one(plan, "azure-native:storage:ManagementPolicy", cell.name)["policy"]["rules"]
        actions = rules[0]["definition"]["actions"]
        assert actions["baseBlob"]["tierToCool"] == {"daysAfterModificationGreaterThan": 30}
        assert actions["baseBlob"]["delete"] == {"daysAfterModificationGreaterThan": 400}
        assert actions["version"]["delete"] == {"daysAfterCreationGreaterThan": 400}


def test_private_endpoint_for_blob(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        endpoint = _one(plan, "azure-native:network:PrivateEndpoint", cell.name)
        assert endpoint["location"] == cell.primary_region
        assert endpoint["subnet"]["id"].endswith("/subnets/pe")
        connection = endpoint["privateLinkServiceConnections"][0]
        assert connection["groupIds"] == ["blob"]
        assert connection["privateLinkServiceId"].endswith(f"/storageAccounts/stslot{name}{cell.name}bk")
        group = _one(plan, "azure-native:network:PrivateDnsZoneGroup", cell.name)
        assert group["privateDnsZoneConfigs"][0]["privateDnsZoneId"].endswith("privatelink.blob.core.windows.net")


def test_a_locally_redundant_sku_is_refused() -> None:
    cell = load("dev").cells["us"]
    with pytest.raises(ValueError, match=r"sku 'Standard_LRS' would not keep the copy in the Azure pair"):
        evaluate("dev", lambda: BackupStorage("b", BackupStorageArgs(
            cell=cell, account_name="x", resource_group_name="rg", private_endpoint_subnet_id="s",
            private_dns_zone_id="z", tags={}, sku="Standard_LRS")) and None)
