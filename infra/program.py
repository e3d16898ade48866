"""The Pulumi program: one Cell per residency of the environment.

`build` is what `pulumi up` runs (through infra/__main__.py) and what `slotstack plan` and the tests
run under the mock engine; it takes everything it needs as arguments.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import authorization

from infra.cell import Cell, CellArgs
from infra.compute import settings as deploy_settings
from infra.environment import Environment


def cell_urls(env: Environment) -> dict[str, str]:
    """The public URL of every cell: the service answers 421 with the tenant's home cell from this."""
    return {name: f"https://{cell.hostname}" for name, cell in env.cells.items()}


def build(env: Environment, settings: deploy_settings.DeploySettings | None = None) -> dict[str, Any]:
    """Declare every cell of `env`; return the Cell components by name (also exported as stack outputs)."""
    settings = settings or deploy_settings.from_environ()
    client = authorization.get_client_config_output()
    urls = cell_urls(env)
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
        ))
        pulumi.export(name, cells[name].exports())
    return dict(cells)
