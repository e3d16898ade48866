"""The Pulumi program: one Cell per residency of the environment, plus what the cells share.

`build` is what `pulumi up` runs (through infra/__main__.py) and what `slotstack plan` and the tests
run under the mock engine; it takes everything it needs as arguments.

Shared per environment: the on-call action groups (location global, in a small "shared" resource
group), the IAM OIDC provider that lets each cell's managed identity reach its own image bucket
(IAM is global), the PEER_KEY that signs the calls between the cells (one generated password, which
every cell's Key Vault holds), and the uptime monitor on AWS, outside the cells' cloud.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import authorization, resources

from infra import tags
from infra.cell import Cell, CellArgs
from infra.compute import settings as deploy_settings
from infra.environment import Environment
from infra.observability.action_groups import ActionGroupsArgs, OnCallActionGroups
from infra.storage.images import web_identity_provider
from infra.storage.service_secrets import peer_key_password
from infra.uptime_aws.deployment import UptimeDeployment, UptimeDeploymentArgs

# Managed identities get tokens for this audience to exchange with AWS STS (AssumeRoleWithWebIdentity).
OIDC_AUDIENCE = "api://AzureADTokenExchange"


def cell_urls(env: Environment) -> dict[str, str]:
    """The public URL of every cell: the service answers 421 with the tenant's home cell from this."""
    return {name: f"https://{cell.hostname}" for name, cell in env.cells.items()}


def shared_tags(env: Environment) -> dict[str, str]:
    """Tags of the environment-wide resources: they belong to no cell and hold no customer data."""
    return {"environment": env.name, "cell": tags.SHARED_CELL, "residency": "global",
            "data-classification": tags.OPERATIONAL, "managed-by": tags.MANAGED_BY}


def build(env: Environment, settings: deploy_settings.DeploySettings | None = None) -> dict[str, Any]:
    """Declare every cell of `env`; return the Cell components by name (also exported as stack outputs)."""
    settings = settings or deploy_settings.from_environ()
    client = authorization.get_client_config_output()
    urls = cell_urls(env)
    shared = shared_tags(env)
    first = next(iter(env.cells.values()))
    # Action groups are global; their resource group sits in the first cell's secondary region so that
    # an outage of a primary region never leaves on-call routing unchangeable.
    shared_group = resources.ResourceGroup(
        "shared-rg", resource_group_name=f"rg-slotstack-{env.name}-shared", location=first.secondary_region,
        tags=shared)
    action_groups = OnCallActionGroups("oncall", ActionGroupsArgs(
        resource_group_name=shared_group.name, name_prefix=f"ag-slotstack-{env.name}",
        short_name_prefix=env.name[:7], receivers=env.oncall.receivers, tags=shared))
    issuer = client.tenant_id.apply(lambda tenant: f"https://login.microsoftonline.com/{tenant}/v2.0")
    oidc = web_identity_provider("entra-oidc", issuer, OIDC_AUDIENCE, shared)
    # One key for all cells: each signs its calls to the others with it and checks theirs (tenant slugs
    # are unique across the environment). A generated value in state, not a resource of any cloud.
    peer_key = peer_key_password()

    cells: dict[str, Cell] = {}
    for index, (name, spec) in enumerate(env.cells.items()):
        cells[name] = Cell(name, CellArgs(
            environment=env.name,
            spec=spec,
            index=index,
            is_prod=env.is_prod,
            cell_urls=urls,
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            settings=settings,
            alerts=env.alerts,
            action_group_ids=action_groups.ids,
            oidc_provider_arn=oidc.arn,
            oidc_issuer_url=issuer,
            oidc_audience=OIDC_AUDIENCE,
            peer_key=peer_key.result,
        ))
        pulumi.export(name, cells[name].exports())
    if settings.monitor_wheel is not None:
        uptime = UptimeDeployment("uptime", UptimeDeploymentArgs(
            env=env, wheel_path=settings.monitor_wheel, tags={**shared, "cell": tags.MONITOR_CELL}))
        pulumi.export("status_page", uptime.status_url)
    return dict(cells)
