"""The service on a VM believes X-Forwarded-For only from its own cell's Application Gateway subnets."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from infra import environment, mocks
from tests.infra.test_release_rollout import VMSS, script_of
from tests.plans import of_cell


def test_every_fleet_trusts_exactly_its_cells_gateway_subnets(plan_of: Callable[[str], mocks.Plan]) -> None:
    for name in ("dev", "staging", "prod"):
        plan = plan_of(name)
        for cell in environment.load(name).cells:
            gateways = {s.inputs["addressPrefix"] for s in of_cell(plan, cell, "azure-native:network:Subnet")
                        if s.inputs.get("subnetName") == "gateway"}
            assert gateways, f"{name}/{cell}: no gateway subnet found"
            for vmss in of_cell(plan, cell, VMSS):
                [line] = [x for x in script_of(vmss).splitlines() if "bootstrap.sh --wheel-file" in x]
                words = shlex.split(line)
                env = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--env")
                assert "TRUSTED_PROXIES" in env, f"{vmss.name}: the release does not set TRUSTED_PROXIES"
                trusted = set(env["TRUSTED_PROXIES"].split(","))
                # Both regions' gateways (the standby region serves after a failover), nothing else.
                assert trusted <= gateways, f"{vmss.name}: trusts {trusted - gateways}, which are not gateway subnets"
                assert trusted & gateways, f"{vmss.name}: trusts none of its cell's gateway subnets"
