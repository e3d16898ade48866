"""The cell's Key Vault: RBAC, purge protection, 90-day soft delete, private only, a rotating KEK, TLS certificate."""

from __future__ import annotations

from datetime import UTC, datetime

from infra import environment, mocks
from infra.cell import TLS_CERTIFICATE
from infra.storage.keyvault import KeyVault, KeyVaultArgs
from tests.plans import by_id, of_cell

VAULT = "azure-native:keyvault:Vault"
Env = tuple[environment.Environment, mocks.Plan]


def test_one_vault_per_cell_in_the_primary_region_with_a_unique_name(env_plan: Env) -> None:
    env, plan = env_plan
    names = []
    for cell in env.cells.values():
        [vault] = of_cell(plan, cell.name, VAULT)
        assert vault.location == cell.primary_region
        name = vault.inputs["vaultName"]
        assert 3 <= len(name) <= 24, f"{name}: not a valid Key Vault name"
        assert name[0].isalpha(), f"{name}: not a valid Key Vault name"
        names.append(name)
    assert len(set(names)) == len(names)


def test_vault_is_rbac_only_purge_protected_and_soft_deletes_for_90_days(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        [vault] = of_cell(plan, cell, VAULT)
        props = vault.inputs["properties"]
        assert props["enableRbacAuthorization"] is True, f"{vault.name}: RBAC guardrail broken"
        assert "accessPolicies" not in props
        assert props["enablePurgeProtection"] is True, f"{vault.name}: purge protection guardrail broken"
        assert props["enableSoftDelete"] is True
        assert props["softDeleteRetentionInDays"] == 90
        assert props["tenantId"] == mocks.TENANT


def test_vault_has_no_public_network_access_only_private_endpoints(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells.values():
        [vault] = of_cell(plan, cell.name, VAULT)
        props = vault.inputs["properties"]
        assert props["publicNetworkAccess"] == "Disabled", f"{vault.name}: reachable from the Internet"
        assert props["networkAcls"]["defaultAction"] == "Deny"
        endpoints = [e for e in plan.of_type("azure-native:network:PrivateEndpoint")
                     if e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] == vault.id]
        # One per region of the cell (test_vault_endpoints.py: each in its region, with its region's DNS).
        assert sorted(str(e.location) for e in endpoints) == sorted((cell.primary_region, cell.secondary_region)), \
            f"{vault.name}: needs one private endpoint per region"
        for endpoint in endpoints:
            assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["vault"]
            assert ids[endpoint.inputs["subnet"]["id"]].inputs["subnetName"] == "private-endpoints"
            [group] = [g for g in plan.of_type("azure-native:network:PrivateDnsZoneGroup")
                       if g.inputs["privateEndpointName"] == endpoint.name]
            zone = ids[group.inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"]]
            assert zone.inputs["privateZoneName"] == "privatelink.vaultcore.azure.net"


def test_key_encryption_key_wraps_only_and_rotates(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        [vault] = of_cell(plan, cell, VAULT)
        [key] = of_cell(plan, cell, "azure-native:keyvault:Key")
        assert key.inputs["vaultName"] == vault.inputs["vaultName"]
        props = key.inputs["properties"]
        assert props["kty"] == "RSA"
        assert props["keySize"] >= 3072
        assert sorted(props["keyOps"]) == ["unwrapKey", "wrapKey"]
        policy = props["rotationPolicy"]
        actions = {a["action"]["type"]: a["trigger"] for a in policy["lifetimeActions"]}
        assert "rotate" in actions, f"{key.name}: no rotation"
        assert actions["rotate"]["timeAfterCreate"] == "P1Y"
        assert policy["attributes"]["expiryTime"] == "P2Y"


def test_gateway_certificate_is_the_versionless_secret_of_the_cells_vault(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        [vault] = of_cell(plan, cell, VAULT)
        expected = f"https://{vault.inputs['vaultName']}.vault.azure.net/secrets/{TLS_CERTIFICATE}"
        for gw in of_cell(plan, cell, "azure-native:network:ApplicationGateway"):
            assert [c["keyVaultSecretId"] for c in gw.inputs["sslCertificates"]] == [expected], \
                f"{gw.name}: a versioned or foreign secret id would not follow certificate renewals"


def test_secrets_stored_through_the_component_have_expiry_and_content_type() -> None:
    expires = datetime(2027, 6, 30, tzinfo=UTC)

    def program() -> None:
        vault = KeyVault("kvtest", KeyVaultArgs(
            vault_name="kv-test-0001", resource_group_name="rg-test", location="westeurope", tenant_id=mocks.TENANT,
            private_endpoint_subnet_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/subnets/pe",
            dns_zone_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/z",
            certificate_name="gateway-tls", tags={"cell": "eu"}))
        vault.secret("postgres-admin-password", "not-shown", content_type="text/plain; postgres admin", expires=expires)

    plan = mocks.evaluate("standalone", program)
    [secret] = plan.of_type("azure-native:keyvault:Secret")
    props = secret.inputs["properties"]
    assert secret.inputs["secretName"] == "postgres-admin-password"
    assert secret.inputs["vaultName"] == "kv-test-0001"
    assert props["contentType"] == "text/plain; postgres admin"
    assert props["attributes"] == {"enabled": True, "expires": int(expires.timestamp())}
