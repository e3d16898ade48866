"""Logs of a cell: workspace, diagnostic settings for every data-bearing resource, the fleet's agent."""

from __future__ import annotations

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
from tests.infra.test_observability_standins import committed, in_cell, stand_ins

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def plans() -> dict[str, tuple[environment.Environment, Plan]]:
    return {name: committed(name) for name in ENVIRONMENTS}


def _cells(plans: dict[str, tuple[environment.Environment, Plan]]):
    for name, (env, plan) in plans.items():
        for cell in env.cells.values():
            yield name, env, plan, cell


def test_one_workspace_per_cell_in_its_primary_region_with_retention_and_cap(plans) -> None:
    for name, _env, plan, cell in _cells(plans):
        workspaces = in_cell(plan, cell.name, "azure-native:operationalinsights:Workspace")
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
        ids = stand_ins(name, cell)
        workspace = in_cell(plan, cell.name, "azure-native:operationalinsights:Workspace")[0]
        settings = in_cell(plan, cell.name, "azure-native:monitor:DiagnosticSetting")
        by_target = {s.inputs["resourceUri"]: s.inputs for s in settings}
        assert set(by_target) == ids.data_bearing_ids(), (
            f"{name}/{cell.name}: diagnostic settings must cover exactly the data-bearing resources; "
            f"missing {ids.data_bearing_ids() - set(by_target)}, extra {set(by_target) - ids.data_bearing_ids()}")
        for target, setting in by_target.items():
            assert setting["workspaceId"].endswith(f"/workspaces/{workspace.inputs['workspaceName']}"), target
            if target in ids.storage_account_ids.values() or target.endswith("/blobServices/default"):
                # Storage exports only these metric categories; AllMetrics is rejected there.
                assert setting["metrics"] == [{"category": "Transaction", "enabled": True},
                                              {"category": "Capacity", "enabled": True}], target
            else:
                assert setting["metrics"] == [{"category": "AllMetrics", "enabled": True}], target
            if target in ids.storage_account_ids.values():
                # A storage account itself has no log categories: its blob service carries them.
                assert "logs" not in setting, f"{target}: allLogs on a storage account is rejected by Azure"
            else:
                assert setting["logs"] == [{"categoryGroup": "allLogs", "enabled": True}], target


def test_postgres_replica_and_secondary_gateway_are_covered_when_the_cell_has_them(plans) -> None:
    _env, plan = plans["prod"]
    uris = {s.inputs["resourceUri"] for s in in_cell(plan, "eu", "azure-native:monitor:DiagnosticSetting")}
    assert any("flexibleServers/psql-slotstack-prod-eu-northeurope" in u for u in uris), "eu replica has no logs"
    assert any("applicationGateways/agw-slotstack-prod-eu-northeurope" in u for u in uris)


def test_agent_and_data_collection_rule_on_every_scale_set(plans) -> None:
    for name, _env, plan, cell in _cells(plans):
        ids = stand_ins(name, cell)
        extensions = in_cell(plan, cell.name, "azure-native:compute:VirtualMachineScaleSetExtension")
        assert {(e.inputs["resourceGroupName"], e.inputs["vmScaleSetName"]) for e in extensions} == {
            group_and_name(i, "virtualMachineScaleSets") for i in ids.scale_set_ids.values()}, f"{name}/{cell.name}"
        for ext in extensions:
            assert (ext.inputs["publisher"], ext.inputs["type"]) == (AGENT_PUBLISHER, AGENT_TYPE)
            assert ext.inputs["enableAutomaticUpgrade"] is True
            auth = ext.inputs["settings"]["authentication"]["managedIdentity"]
            assert auth["identifier-value"] == ids.identity_id, "the agent must use the fleet's identity"
        rules = in_cell(plan, cell.name, "azure-native:monitor:DataCollectionRule")
        assert len(rules) == 1
        rule = rules[0].inputs
        assert rule["location"] == cell.primary_region
        assert rule["kind"] == "Linux"
        assert rule["dataSources"]["syslog"][0]["streams"] == [SYSLOG_STREAM]
        assert "daemon" in rule["dataSources"]["syslog"][0]["facilityNames"], "systemd services log to daemon"
        destination = rule["destinations"]["logAnalytics"][0]
        assert destination["workspaceResourceId"].endswith(f"/workspaces/law-slotstack-{name}-{cell.name}")
        assert rule["dataFlows"] == [{"streams": [SYSLOG_STREAM], "destinations": [destination["name"]]}]
        associations = in_cell(plan, cell.name, "azure-native:monitor:DataCollectionRuleAssociation")
        assert {a.inputs["resourceUri"] for a in associations} == set(ids.scale_set_ids.values())
        assert all(a.inputs["dataCollectionRuleId"].endswith(f"/dataCollectionRules/{rules[0].name}")
                   for a in associations)


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
