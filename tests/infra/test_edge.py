"""The edge of every cell: public IP, WAF policy and Application Gateway, for dev, staging and prod."""

from __future__ import annotations

from typing import Any

from infra import environment, mocks
from infra.cell import fleet_sizes
from infra.network.addressing import APP_PORT
from infra.provider import regions
from tests.plans import by_id, of_cell

GATEWAY = "azure-native:network:ApplicationGateway"
WAF = "azure-native:network:WebApplicationFirewallPolicy"
Env = tuple[environment.Environment, mocks.Plan]


def _gateways(plan: mocks.Plan, cell: str) -> list[mocks.Recorded]:
    return of_cell(plan, cell, GATEWAY)


def _named(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def _ids(value: Any) -> list[str]:
    """Every {"id": ...} reference anywhere inside `value`."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_ids(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_ids(item))
    return found


def test_a_gateway_in_every_region_that_runs_a_fleet(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells.values():
        regions = {gw.location for gw in _gateways(plan, cell.name)}
        expected = {cell.primary_region if role == "primary" else cell.secondary_region for role in fleet_sizes(cell)}
        assert regions == expected, f"{cell.name}: gateways in {regions}, fleets in {expected}"
    if env.name == "dev":
        assert all(len(_gateways(plan, c)) == 1 for c in env.cells), "dev has no standby fleet, so one gateway"
    if env.name == "prod":
        assert all(len(_gateways(plan, c)) == 2 for c in env.cells), "prod: a standby gateway in the secondary region"


def test_public_ip_is_standard_static_and_zone_redundant(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells:
        for gw in _gateways(plan, cell):
            ip = ids[gw.inputs["frontendIPConfigurations"][0]["publicIPAddress"]["id"]]
            assert ip.inputs["sku"] == {"name": "Standard", "tier": "Regional"}, f"{ip.name}: not Standard"
            assert ip.inputs["publicIPAllocationMethod"] == "Static"
            # Zone-redundant where the region has zones; Azure refuses zones elsewhere (infra.provider.regions).
            expected = regions.zones_of(ip.location or "") or None
            assert ip.inputs.get("zones") == expected, f"{ip.name}: zone-redundancy guardrail broken"
            assert ip.location == gw.location
            assert ip.inputs["dnsSettings"]["domainNameLabel"]


def test_waf_policy_prevention_with_managed_rules_body_inspection_rate_limit_and_scrubbing(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells:
        for gw in _gateways(plan, cell):
            waf = ids[gw.inputs["firewallPolicy"]["id"]]
            assert waf.type == WAF, f"{gw.name}: WAF policy is not attached"
            settings = waf.inputs["policySettings"]
            assert (settings["state"], settings["mode"]) == ("Enabled", "Prevention"), f"{waf.name}: WAF not preventing"
            assert settings["requestBodyCheck"] is True
            assert settings["requestBodyEnforcement"] is True
            assert 0 < settings["requestBodyInspectLimitInKB"] <= settings["maxRequestBodySizeInKb"]
            assert settings["fileUploadLimitInMb"] > 0
            sets = {(s["ruleSetType"], s["ruleSetVersion"]) for s in waf.inputs["managedRules"]["managedRuleSets"]}
            assert sets == {("Microsoft_DefaultRuleSet", "2.1"), ("Microsoft_BotManagerRuleSet", "1.1")}
            [rule] = waf.inputs["customRules"]
            assert rule["ruleType"] == "RateLimitRule"
            assert rule["action"] == "Block"
            assert rule["rateLimitDuration"] == "OneMin"
            assert rule["rateLimitThreshold"] > 0
            assert rule["groupByUserSession"] == [{"groupByVariables": [{"variableName": "ClientAddr"}]}], \
                f"{waf.name}: rate limit must count per client IP"
            scrubbing = settings["logScrubbing"]
            assert scrubbing["state"] == "Enabled"
            scrubbed = {(r["matchVariable"], r["selector"])
                        for r in scrubbing["scrubbingRules"] if r["state"] == "Enabled"}
            assert {("RequestHeaderNames", "Authorization"), ("RequestJSONArgNames", "password"),
                    ("RequestPostArgNames", "password")} <= scrubbed, f"{waf.name}: credentials reach the logs"
            assert waf.location == gw.location


def test_gateway_is_waf_v2_zone_redundant_and_autoscaled(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for gw in _gateways(plan, cell):
            assert gw.inputs["sku"] == {"name": "WAF_v2", "tier": "WAF_v2"}
            assert gw.inputs.get("zones") == (regions.zones_of(gw.location or "") or None)
            scale = gw.inputs["autoscaleConfiguration"]
            assert scale == {"minCapacity": 3 if env.is_prod else 2, "maxCapacity": 10}, f"{gw.name}: autoscale"
            assert gw.inputs["sslPolicy"] == {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101S"}
            assert gw.inputs["applicationGatewayName"].startswith("agw-"), "gateway name must be explicit"
            subnet = by_id(plan)[gw.inputs["gatewayIPConfigurations"][0]["subnet"]["id"]]
            assert subnet.inputs["subnetName"] == "gateway"


def test_https_listener_uses_sni_and_the_key_vault_certificate_through_a_user_assigned_identity(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells.values():
        [vault] = of_cell(plan, cell.name, "azure-native:keyvault:Vault")
        vault_uri = f"https://{vault.inputs['vaultName']}.vault.azure.net/"
        for gw in _gateways(plan, cell.name):
            listeners = _named(gw.inputs["httpListeners"])
            https = listeners["listener-https"]
            assert https["protocol"] == "Https"
            assert https["requireServerNameIndication"] is True
            assert https["hostName"] == cell.hostname
            certs = _named(gw.inputs["sslCertificates"])
            assert https["sslCertificate"]["id"].endswith("/sslCertificates/cert-tls")
            secret = certs["cert-tls"]["keyVaultSecretId"]
            assert secret.startswith(vault_uri + "secrets/"), f"{gw.name}: certificate not from the cell's vault"
            assert "data" not in certs["cert-tls"], "no certificate material in the plan"
            identity = gw.inputs["identity"]
            assert identity["type"] == "UserAssigned"
            [identity_id] = identity["userAssignedIdentities"]
            principal = f"principal-{ids[identity_id].name}"
            grants = [r for r in plan.of_type("azure-native:authorization:RoleAssignment")
                      if r.inputs["principalId"] == principal]
            assert [(g.inputs["roleDefinitionId"].rsplit("/", 1)[-1], g.inputs["scope"]) for g in grants] == [
                ("4633458b-17de-408a-b874-0445c86b69e6", vault.id)], f"{gw.name}: identity must read the vault only"


def test_http_listener_redirects_permanently_to_https_keeping_path_and_query(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for gw in _gateways(plan, cell):
            rules = _named(gw.inputs["requestRoutingRules"])
            http_rule = rules["rule-http"]
            assert http_rule["httpListener"]["id"].endswith("/httpListeners/listener-http")
            assert "backendAddressPool" not in http_rule, "plain HTTP must never reach the fleet"
            redirect = _named(gw.inputs["redirectConfigurations"])[
                http_rule["redirectConfiguration"]["id"].rsplit("/", 1)[-1]]
            assert redirect["redirectType"] == "Permanent"
            assert redirect["includePath"] is True
            assert redirect["includeQueryString"] is True
            assert redirect["targetListener"]["id"].endswith("/httpListeners/listener-https")
            ports = {p["name"]: p["port"] for p in gw.inputs["frontendPorts"]}
            listeners = _named(gw.inputs["httpListeners"])
            assert ports[listeners["listener-http"]["frontendPort"]["id"].rsplit("/", 1)[-1]] == 80
            assert ports[listeners["listener-https"]["frontendPort"]["id"].rsplit("/", 1)[-1]] == 443


def test_backend_settings_probe_healthz_and_route_https_to_the_fleet_pool(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for gw in _gateways(plan, cell):
            [settings] = gw.inputs["backendHttpSettingsCollection"]
            assert settings["port"] == APP_PORT
            assert settings["protocol"] == "Http"
            [probe] = gw.inputs["probes"]
            assert settings["probe"]["id"].endswith(f"/probes/{probe['name']}")
            assert probe["path"] == "/healthz"
            assert probe["protocol"] == "Http"
            https_rule = _named(gw.inputs["requestRoutingRules"])["rule-https"]
            [pool] = gw.inputs["backendAddressPools"]
            assert https_rule["backendAddressPool"]["id"].endswith(f"/backendAddressPools/{pool['name']}")
            # The pool is fed by the scale set of the same region.
            pool_id = f"{gw.id}/backendAddressPools/{pool['name']}"
            members = [s for s in plan.of_type("azure-native:compute:VirtualMachineScaleSet")
                       if pool_id in _ids(s.inputs["virtualMachineProfile"]["networkProfile"])]
            assert len(members) == 1, f"{gw.name}: pool has no fleet"
            assert members[0].location == gw.location


def test_gateway_sub_resource_ids_point_into_the_gateway_itself(env_plan: Env) -> None:
    env, plan = env_plan
    collections = {"frontendIPConfigurations", "frontendPorts", "sslCertificates", "httpListeners", "probes",
                   "backendAddressPools", "backendHttpSettingsCollection", "redirectConfigurations",
                   "requestRoutingRules"}
    for cell in env.cells:
        for gw in _gateways(plan, cell):
            names = {kind: {item["name"] for item in gw.inputs.get(kind, [])} for kind in collections}
            external = {gw.inputs["firewallPolicy"]["id"], gw.inputs["gatewayIPConfigurations"][0]["subnet"]["id"],
                        gw.inputs["frontendIPConfigurations"][0]["publicIPAddress"]["id"]}
            for ref in _ids({k: v for k, v in gw.inputs.items() if k != "identity"}):
                if ref in external:
                    continue
                assert ref.startswith(gw.id + "/"), f"{gw.name}: {ref} is not a sub-resource of {gw.id}"
                kind, item = ref[len(gw.id) + 1:].split("/")
                assert kind in collections, f"{gw.name}: {ref} points at nothing"
                assert item in names[kind], f"{gw.name}: {ref} points at nothing"
