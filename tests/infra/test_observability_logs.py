"""Logs of a cell: workspace, diagnostic settings for every data-bearing resource, the fleet's agent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra import environment
from infra.mocks import Plan, evaluate
from infra.observability.agent import (
    AGENT_PUBLISHER,
    AGENT_TYPE,
    SYSLOG_STREAM,
    MonitorAgent,
    MonitorAgentArgs,
    agent_extension,
)
from infra.observability.arm import group_and_name
from infra.observability.diagnostics import Diagnostics, DiagnosticsArgs
from tests.infra.cells import cell_resources
from tests.plans import ENVIRONMENTS, of_cell

WORKSPACE = "azure-native:operationalinsights:Workspace"
DIAGNOSTIC = "azure-native:monitor:DiagnosticSetting"


@pytest.fixture(scope="module")
def plans(plan_of: Callable[[str], Plan]) -> dict[str, tuple[environment.Environment, Plan]]:
    return {name: (environment.load(name), plan_of(name)) for name in ENVIRONMENTS}


def _cells(plans: dict[str, tuple[environment.Environment, Plan]]):
    for name, (env, plan) in plans.items():
        for cell in env.cells.values():
            yield name, env, plan, cell


def test_one_workspace_per_cell_in_its_primary_region_with_retention_and_cap(plans) -> None:
    for name, _env, plan, cell in _cells(plans):
        workspaces = of_cell(plan, cell.name, WORKSPACE)
        assert len(workspaces) == 1, f"{name}/{cell.name}: expected one Log Analytics workspace, got {workspaces}"
        ws = workspaces[0].inputs
        assert ws["location"] == cell.primary_region, f"{name}/{cell.name}: workspace must stay in the primary region"
        assert ws["retentionInDays"] == cell.logs.retention_days, f"{name}/{cell.name}: retention not from cell.logs"
        assert ws["workspaceCapping"] == {"dailyQuotaGb": cell.logs.daily_cap_gb}, f"{name}/{cell.name}: daily cap"
        assert ws["workspaceName"] == f"law-slotstack-{name}-{cell.name}"
        assert ws["tags"]["cell"] == cell.name
        assert ws["tags"]["residency"] == cell.residency


def test_every_data_bearing_resource_has_a_diagnostic_setting_to_the_cell_workspace(plans) -> None:
    for name, _env, plan, cell in _cells(plans):
        cell_of = cell_resources(plan, cell)
        wanted = cell_of.data_bearing_ids()
        workspace = of_cell(plan, cell.name, WORKSPACE)[0]
        by_target = {s.inputs["resourceUri"]: s.inputs for s in of_cell(plan, cell.name, DIAGNOSTIC)}
        assert set(by_target) == wanted, (
            f"{name}/{cell.name}: diagnostic settings must cover exactly the data-bearing resources; "
            f"missing {wanted - set(by_target)}, extra {set(by_target) - wanted}")
        accounts = {a.id for a in cell_of.storage_accounts}
        for target, setting in by_target.items():
            assert setting["workspaceId"] == workspace.id, f"{target}: logs go to another workspace"
            if target in accounts or target.endswith("/blobServices/default"):
                # Storage exports only these metric categories; AllMetrics is rejected there.
                assert setting["metrics"] == [{"category": "Transaction", "enabled": True},
                                              {"category": "Capacity", "enabled": True}], target
            else:
                assert setting["metrics"] == [{"category": "AllMetrics", "enabled": True}], target
            if target in accounts:
                # A storage account itself has no log categories: its blob service carries them.
                assert "logs" not in setting, f"{target}: allLogs on a storage account is rejected by Azure"
            else:
                assert setting["logs"] == [{"categoryGroup": "allLogs", "enabled": True}], target


def test_postgres_replica_and_secondary_gateway_are_covered_when_the_cell_has_them(plans) -> None:
    env, plan = plans["prod"]
    eu = cell_resources(plan, env.cells["eu"])
    uris = {s.inputs["resourceUri"] for s in of_cell(plan, "eu", DIAGNOSTIC)}
    assert eu.databases["northeurope"].inputs.get("createMode") == "Replica"
    assert eu.databases["northeurope"].id in uris, "the eu replica has no logs"
    assert eu.gateways["northeurope"].id in uris, "the eu standby gateway has no logs"
    backups = [a for a in eu.storage_accounts if "backup" in a.name]
    assert backups, "prod eu keeps a backup storage account"
    assert {f"{a.id}/blobServices/default" for a in backups} <= uris, "the backup account's blob logs are missing"


def test_agent_and_data_collection_rule_on_every_scale_set(plans) -> None:
    for name, _env, plan, cell in _cells(plans):
        where = f"{name}/{cell.name}"
        cell_of = cell_resources(plan, cell)
        assert cell_of.scale_sets, f"{where}: no scale set"
        # The fleet lists its extensions inline (a scale set drops any other on update), so the agent must
        # ride in each scale set's own extension profile, authenticated as the fleet's identity.
        assert of_cell(plan, cell.name, "azure-native:compute:VirtualMachineScaleSetExtension") == []
        for region, vmss in cell_of.scale_sets.items():
            extensions = vmss.inputs["virtualMachineProfile"]["extensionProfile"]["extensions"]
            agents = [e for e in extensions if (e.get("publisher"), e.get("type")) == (AGENT_PUBLISHER, AGENT_TYPE)]
            assert len(agents) == 1, f"{where}/{region}: the scale set has no Azure Monitor agent"
            [agent] = agents
            assert agent["enableAutomaticUpgrade"] is True, where
            auth = agent["settings"]["authentication"]["managedIdentity"]
            assert auth["identifier-value"] == cell_of.fleet_identity.id, "the agent must use the fleet's identity"
        rules = of_cell(plan, cell.name, "azure-native:monitor:DataCollectionRule")
        assert len(rules) == 1, where
        rule = rules[0].inputs
        assert rule["location"] == cell.primary_region
        assert rule["kind"] == "Linux"
        assert rule["dataSources"]["syslog"][0]["streams"] == [SYSLOG_STREAM]
        assert "daemon" in rule["dataSources"]["syslog"][0]["facilityNames"], "systemd services log to daemon"
        destination = rule["destinations"]["logAnalytics"][0]
        assert destination["workspaceResourceId"] == of_cell(plan, cell.name, WORKSPACE)[0].id, where
        assert rule["dataFlows"] == [{"streams": [SYSLOG_STREAM], "destinations": [destination["name"]]}]
        associations = of_cell(plan, cell.name, "azure-native:monitor:DataCollectionRuleAssociation")
        assert {a.inputs["resourceUri"] for a in associations} == {v.id for v in cell_of.scale_sets.values()}, where
        assert all(a.inputs["dataCollectionRuleId"] == rules[0].id for a in associations), where


def test_diagnostics_without_targets_is_refused() -> None:
    with pytest.raises(ValueError, match="no targets; pass the ids"):
        evaluate("dev", lambda: Diagnostics("d", DiagnosticsArgs("/ws", {})))


def test_a_scale_set_id_of_another_kind_is_refused_with_the_expected_shape() -> None:
    with pytest.raises(ValueError, match="is not the id of a virtualMachineScaleSets resource"):
        group_and_name("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm",
                       "virtualMachineScaleSets")


def test_agent_can_ride_in_the_scale_sets_own_extension_profile() -> None:
    # A scale set that declares extensions inline drops any other on update, so the fleet can list the
    # agent itself; then this component must not manage a second copy, but still route the logs.
    scale_set = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/vmss"
    args = MonitorAgentArgs("g", "eastus2", "/ws", {"eastus2": scale_set}, {}, install_extension=False)
    plan = evaluate("dev", lambda: MonitorAgent("a", args))
    assert plan.of_type("azure-native:compute:VirtualMachineScaleSetExtension") == []
    [association] = plan.of_type("azure-native:monitor:DataCollectionRuleAssociation")
    assert association.inputs["resourceUri"] == scale_set
    inline = agent_extension()
    assert (inline["publisher"], inline["type"], inline["enable_automatic_upgrade"]) == (
        AGENT_PUBLISHER, AGENT_TYPE, True)
    assert "settings" not in inline, "without an identity the agent uses the system-assigned one"
