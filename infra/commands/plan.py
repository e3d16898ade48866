"""`slotstack plan ENV [--json]`: every resource of every cell, planned offline with Pulumi's mock engine.

No Pulumi CLI, no plugins, no cloud credentials: the program runs under `infra.mocks.evaluate` and
the recorded resources are printed per cell with their type, name and region.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infra import checklist, environment, mocks, program
from infra.compute import settings as deploy_settings
from infra.observability.describe import describe_alerts, describe_failover, format_alerts

# `slotstack plan` declares nothing real, so without a deployer key it plans with this one; it is
# a well-formed public key that no one holds the private half of.
PLAN_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlanOnlyKeyNoPrivateHalfExistsForThisKey0000 slotstack-plan"
OUTSIDE = "(environment)"
RESIDENCY_DIR = Path(__file__).resolve().parent.parent.parent / "docs" / "residency"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="list every resource of an environment, per cell, without cloud credentials",
        description="Validate ENV, run the Pulumi program under Pulumi's mock engine and print, per cell, "
                    "every resource with its type, name and region.",
    )
    parser.add_argument("env", metavar="ENV", help="environment name (dev, staging, prod) or a Pulumi.<env>.yaml path")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--residency", action="store_true",
                        help="also print the residency statement and write it to DIR/ENV.md (exit 1 on FAIL)")
    parser.add_argument("--residency-dir", type=Path, default=RESIDENCY_DIR, metavar="DIR",
                        help=f"where --residency writes ENV.md (default: {RESIDENCY_DIR})")
    parser.add_argument("--wheel", type=Path, default=None,
                        help="booking wheel to plan with (default: newest dist/booking-*.whl, built if missing)")
    parser.add_argument("--monitor-wheel", type=Path, default=None,
                        help="uptime wheel to plan with (default: newest dist/uptime-*.whl, built if missing)")
    parser.set_defaults(func=run)


def load(name: str) -> environment.Environment:
    """The environment named `name`, or the file at path `name`."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml"):
        return environment.load_file(candidate)
    return environment.load(name)


def plan_settings(wheel: Path | None, monitor_wheel: Path | None = None) -> deploy_settings.DeploySettings:
    """The deploy settings `slotstack plan` uses: the deployer's key if set, else the plan-only key."""
    raw = os.environ.get(deploy_settings.SSH_KEY_ENV, "")
    keys = tuple(line.strip() for line in raw.splitlines() if line.strip()) or (PLAN_SSH_KEY,)
    found = deploy_settings.Wheel.from_file(wheel) if wheel else deploy_settings.find_wheel()
    return deploy_settings.DeploySettings(wheel=found, ssh_public_keys=keys,
                                          monitor_wheel=monitor_wheel or deploy_settings.find_uptime_wheel())


def region_of(plan: mocks.Plan, resource: mocks.Recorded, group_regions: dict[str, str]) -> str:
    """Azure location; else its resource group's (sub-resources live where their parent is); else the
    region of its AWS provider; else "-"."""
    group = resource.inputs.get("resourceGroupName")
    if not isinstance(group, str):
        # Extension resources (diagnostic settings, rule associations) name their target by ARM id.
        target = resource.inputs.get("resourceUri") or resource.inputs.get("scope")
        found = re.search(r"/resourceGroups/([^/]+)", target) if isinstance(target, str) else None
        group = found.group(1) if found else None
    return (resource.location or (group_regions.get(group) if isinstance(group, str) else None)
            or plan.aws_region_of(resource) or "-")


def cell_of(resource: mocks.Recorded, cells: Iterable[str]) -> str:
    """The cell a resource belongs to: every child of a Cell is named `<cell>-...`."""
    for cell in cells:
        if resource.name == cell or resource.name.startswith(f"{cell}-"):
            return cell
    return OUTSIDE


def document(env: environment.Environment, plan: mocks.Plan) -> dict[str, Any]:
    """The machine-readable plan: per cell, its regions and every resource."""
    cells: dict[str, dict[str, Any]] = {
        name: {"residency": c.residency, "regions": {"primary": c.primary_region, "secondary": c.secondary_region,
                                                     "aws": c.aws_region}, "resources": []}
        for name, c in env.cells.items()}
    # Environment-wide resources: the on-call action groups, the IAM OIDC provider, the uptime monitor.
    shared: dict[str, Any] = {"resources": []}
    group_regions = {str(g.inputs.get("resourceGroupName")): g.location or "-"
                     for g in plan.of_type("azure-native:resources:ResourceGroup")}
    for resource in plan.resources:
        if resource.type.startswith("slotstack:"):
            continue  # components group resources; they are not resources of the cloud
        owner = cell_of(resource, env.cells)
        entry = cells.get(owner, shared)
        entry["resources"].append({"type": resource.type, "name": resource.name,
                                   "region": region_of(plan, resource, group_regions)})
    for entry in (*cells.values(), shared):
        # Registration order depends on when Outputs resolve; sorted, two plans of one program diff cleanly.
        entry["resources"].sort(key=lambda r: (r["type"], r["name"]))
        entry["count"] = len(entry["resources"])
    return {"environment": env.name, "source": env.source, "cells": cells, "shared": shared,
            "total": sum(entry["count"] for entry in cells.values()) + shared["count"],
            "alerts": describe_alerts(env), "failover": describe_failover(env),
            "attention": checklist.attention(env)}


def render(doc: dict[str, Any]) -> str:
    """The plan as a table per cell, for people."""
    lines: list[str] = []
    for name, cell in doc["cells"].items():
        regions = ", ".join(f"{k} {v}" for k, v in cell["regions"].items())
        lines.append(f"cell {name} ({cell['residency']}; {regions}): {cell['count']} resources")
        width = max((len(r["type"]) for r in cell["resources"]), default=0)
        lines.extend(f"  {r['type']:<{width}}  {r['name']}  [{r['region']}]" for r in cell["resources"])
        lines.append("")
    shared = doc["shared"]
    lines.append(f"environment-wide (on-call action groups, IAM OIDC provider, uptime monitor on AWS): "
                 f"{shared['count']} resources")
    width = max((len(r["type"]) for r in shared["resources"]), default=0)
    lines.extend(f"  {r['type']:<{width}}  {r['name']}  [{r['region']}]" for r in shared["resources"])
    lines.append("")
    lines.append("alerts (Sev0/1 page by SMS and email, Sev2-4 email only):")
    lines.append(format_alerts(doc["alerts"]))
    lines.append("")
    lines.extend(checklist.render(doc["attention"]))
    lines.append("")
    lines.append(f"{doc['environment']}: {doc['total']} resources in {len(doc['cells'])} cell(s); nothing was changed "
                 "(planned with the mock engine)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        env = load(args.env)
    except environment.InvalidEnvironment as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in the environment; nothing was planned.", file=sys.stderr)
        return exc.exit_code
    settings = plan_settings(args.wheel, args.monitor_wheel)
    plan = mocks.evaluate(env.name, lambda: program.build(env, settings))
    doc = document(env, plan)
    print(json.dumps(doc, indent=2) if args.json else render(doc))
    if not args.residency:
        return 0
    # The statement's classification of data-bearing resources lives with the policy pack's rule.
    from infra import statement

    page = args.residency_dir / f"{env.name}.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(statement.render(env, plan), encoding="utf-8")
    out = sys.stderr if args.json else sys.stdout  # keep --json output one parseable document
    print(statement.summary(env, plan), file=out)
    print(f"wrote {page}", file=out)
    return 0 if statement.assess(env, plan).ok else 1
