"""The residency statement: where each cell stores and processes customer data, and the verdict.

One classification of resources serves both the policy pack's residency rule and this statement:
`DATA_BEARING` (must stay in the cell's geography) and `EXEMPT` (global, holds no customer data,
each with the reason). `render(env, plan)` writes the page an enterprise customer's security
questionnaire is answered from (docs/residency/<env>.md); `summary(env, plan)` is the terminal view.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.observability.exempt import GLOBAL_RESOURCES as OBSERVABILITY_GLOBAL
from infra.residency import RESIDENCIES, country_of

if TYPE_CHECKING:
    # Only for annotations: the policy pack imports this module in its own small virtualenv
    # (pulumi + pulumi-policy), where PyYAML and the cloud SDKs are not installed.
    from infra.environment import Environment
    from infra.mocks import Plan, Recorded

# Resource type -> what customer data it stores or processes.
DATA_BEARING: dict[str, str] = {
    "azure-native:dbforpostgresql:Server": "tenant database (bookings, customers)",
    "azure-native:storage:StorageAccount": "blob storage (database backups, exports, app releases)",
    "azure-native:keyvault:Vault": "keys and secrets protecting tenant data",
    "azure-native:operationalinsights:Workspace": "logs (tenant and request ids)",
    "azure-native:applicationinsights:Component": "request telemetry",
    "azure-native:compute:VirtualMachineScaleSet": "the booking service (processes all tenant data)",
    "azure-native:compute:VirtualMachine": "a virtual machine (processes tenant data)",
    "azure-native:network:ApplicationGateway": "TLS termination and WAF (processes every request)",
    "aws:s3/bucket:Bucket": "tenant images",
    "aws:s3/bucketV2:BucketV2": "tenant images",
}
# Global resource type -> why it may live outside the cell's geography. The global resources of
# alerting and failover (action groups, metric alerts, Traffic Manager) bring their reasons from
# infra/observability/exempt.py.
EXEMPT: dict[str, str] = {
    "azure-native:trafficmanager:Endpoint": "an entry of the Traffic Manager profile: a gateway's host name",
    "azure-native:privatedns:PrivateZone": "private DNS names of the cell's endpoints only (location global)",
    "azure-native:privatedns:VirtualNetworkLink": "links a private DNS zone to a VNet; no data",
    "aws:cloudfront/distribution:Distribution": "CDN configuration is global; it caches copies of tenant "
                                                "images at the edges of its price class (see the note above); "
                                                "cells with images.strict_residency have no distribution",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "how CloudFront signs requests to the bucket; "
                                                              "no data",
    "aws:acm/certificate:Certificate": "public TLS certificate of the image domain; CloudFront only accepts "
                                      "certificates from us-east-1",
    "aws:acm/certificateValidation:CertificateValidation": "waits for the certificate's DNS validation; no data",
    "aws:iam/role:Role": "IAM is global; the role is an identity, it stores no data",
    "aws:iam/rolePolicy:RolePolicy": "IAM is global; a permission document, no data",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "IAM is global; trusts the Entra issuer, no data",
}
EXEMPT.update(OBSERVABILITY_GLOBAL)
# Whole groups of environment-wide resources, found by their `cell` tag (with data-classification
# "operational"), that are outside every cell on purpose, and why no customer data is in them.
SHARED_CELL = "shared"
MONITOR_CELL = "uptime-monitor"
OPERATIONAL = "operational"
EXEMPT_CELLS: dict[str, str] = {
    MONITOR_CELL: "the uptime monitor runs on AWS outside the cells' cloud so that an Azure outage still "
                      "pages someone; it stores probe results of public endpoints, release wheels and the "
                      "public status page, and on-call staff contacts, no customer data",
    SHARED_CELL: "environment-wide plumbing (the on-call action groups' resource group, the IAM OIDC provider "
              "that lets each cell's identity reach its own bucket); no customer data",
}


def exempt_group(tags: Mapping[str, Any]) -> str | None:
    """The reason a resource is exempt as part of an environment-wide group, or None."""
    if tags.get("data-classification") != OPERATIONAL:
        return None
    return EXEMPT_CELLS.get(str(tags.get("cell", "")))
# Where a CloudFront price class keeps edge caches (AWS's published price-class regions).
PRICE_CLASS_EDGES: dict[str, str] = {
    "PriceClass_100": "the United States, Canada, Mexico, Europe and Israel",
    "PriceClass_200": "the United States, Canada, Mexico, Europe, Israel, South Africa, Kenya, the Middle East, "
                      "Japan, Singapore, South Korea, Taiwan, Hong Kong, the Philippines, India and other Asian "
                      "countries (not Australia)",
    "PriceClass_All": "every country with a CloudFront edge, worldwide",
}
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
# Storage SKUs whose second copy goes to the Azure pair.
GEO_SKUS = ("Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS")


@dataclass(frozen=True)
class Placement:
    """Where one copy of customer data is, and whether that is inside the geography."""

    resource: str
    type: str
    holds: str
    region: str | None
    problem: str | None = None

    @property
    def country(self) -> str:
        return country_of(self.region) if self.region else "unknown"


def normalize(location: Any) -> str | None:
    """'East US 2' -> 'eastus2'; None/'' stay None."""
    return str(location).replace(" ", "").lower() if location else None


def placements(type_: str, name: str, props: Mapping[str, Any], aws_region: str | None,
               residency: str | None) -> list[Placement]:
    """Every copy a data-bearing resource makes (itself, geo-backup, geo-replica), each judged."""
    holds = DATA_BEARING.get(type_)
    if holds is None:
        return []
    region = aws_region if type_.startswith("aws:") else normalize(props.get("location"))
    geo = RESIDENCIES.get(residency or "")

    def judge(where: str | None, what: str) -> Placement:
        if geo is None:
            return Placement(name, type_, what, where, f"no valid residency tag ({residency!r}): tag it with "
                             f"its cell's residency ({', '.join(RESIDENCIES)})")
        if where is None:
            how = "uses the default AWS provider; give it the cell's explicit provider" if type_.startswith(
                "aws:") else "has no location; set location to a region of the cell"
            return Placement(name, type_, what, None, f"{how} (allowed in {geo.code}: "
                             f"{', '.join(geo.aws_regions if type_.startswith('aws:') else geo.azure_regions)})")
        allowed = geo.aws_regions if type_.startswith("aws:") else geo.azure_regions
        if where not in allowed:
            return Placement(name, type_, what, where, f"{where} ({country_of(where)}) is outside residency "
                             f"{geo.code} ({geo.name}); allowed: {', '.join(allowed)}")
        return Placement(name, type_, what, where)

    found = [judge(region, holds)]
    geo_copy = (type_ == "azure-native:dbforpostgresql:Server"
                and str(_dig(props, "backup.geoRedundantBackup")) == "Enabled") or (
        type_ == "azure-native:storage:StorageAccount" and _dig(props, "sku.name") in GEO_SKUS)
    if geo_copy and region and geo is not None:
        pair = geo.pair_of(region)
        found.append(judge(pair, f"geo-redundant copy of {name}") if pair else Placement(
            name, type_, f"geo-redundant copy of {name}", None,
            f"{region} has no Azure pair inside {geo.code}; its geo copy would leave the geography"))
    return found


def _dig(props: Mapping[str, Any], path: str) -> Any:
    value: Any = props
    for step in path.split("."):
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def tags_of(plan: Plan, resource: Recorded) -> dict[str, str]:
    """The resource's tags, else its AWS provider's default tags."""
    if resource.tags:
        return resource.tags
    if resource.provider:
        provider = plan.providers.get(resource.provider.rsplit("::", 1)[0].rsplit("::", 1)[-1])
        raw = provider.inputs.get("defaultTags") if provider else None
        parsed = json.loads(raw) if isinstance(raw, str) else raw
        if isinstance(parsed, Mapping) and isinstance(parsed.get("tags"), Mapping):
            return dict(parsed["tags"])
    return {}


@dataclass
class CellStatement:
    """One cell's part of the statement."""

    name: str
    residency: str
    data: list[Placement] = field(default_factory=list)
    exempt: list[tuple[str, str, str]] = field(default_factory=list)
    edge_caches: list[str] = field(default_factory=list)
    """Price classes of the cell's CloudFront distributions: where image copies are cached."""

    @property
    def violations(self) -> list[Placement]:
        return [p for p in self.data if p.problem]

    @property
    def countries(self) -> list[str]:
        return sorted({p.country for p in self.data})


@dataclass
class Assessment:
    """The whole statement of an environment."""

    cells: list[CellStatement]
    orphans: list[Placement]
    """Data-bearing resources that belong to no cell of the environment."""
    shared_exempt: list[tuple[str, str, str]]
    """Exempt global resources shared by all cells (no `cell` tag)."""

    @property
    def ok(self) -> bool:
        return not self.orphans and not any(c.violations for c in self.cells)


def assess(env: Environment, plan: Plan) -> Assessment:
    """Per cell: data placements and exempt resources; plus data-bearing resources of no known cell."""
    cells = {name: CellStatement(name, cell.residency) for name, cell in env.cells.items()}
    orphans: list[Placement] = []
    shared: list[tuple[str, str, str]] = []
    groups: dict[str, list[str]] = {}
    # Sorted by name: the page is committed, so it must not depend on registration order.
    for resource in sorted(plan.resources, key=lambda r: r.name):
        tags = tags_of(plan, resource)
        cell = cells.get(tags.get("cell", ""))
        if exempt_group(tags) is not None:
            groups.setdefault(str(tags["cell"]), []).append(resource.type)
            continue
        if resource.type in EXEMPT:
            (cell.exempt if cell is not None else shared).append((resource.name, resource.type,
                                                                   EXEMPT[resource.type]))
            if resource.type == DISTRIBUTION and cell is not None:
                cell.edge_caches.append(str(resource.inputs.get("priceClass", "PriceClass_All")))
        if resource.type not in DATA_BEARING:
            continue
        residency = cell.residency if cell is not None else tags.get("residency")
        found = placements(resource.type, resource.name, resource.inputs, plan.aws_region_of(resource), residency)
        if cell is None:
            orphans.extend(Placement(p.resource, p.type, p.holds, p.region, p.problem or
                                     "belongs to no cell of this environment (missing `cell` tag)") for p in found)
        else:
            cell.data.extend(found)
    for group, types in sorted(groups.items()):
        # One line per group: its resources all share the reason (listing 60 of them says nothing more).
        clouds = sorted({t.split(":")[0] for t in types if not t.startswith("slotstack:")})
        shared.append((f"{group} ({len(types)} resources)", ", ".join(clouds), EXEMPT_CELLS[group]))
    return Assessment(list(cells.values()), orphans, shared)


def verdict(cell: CellStatement) -> str:
    """PASS or FAIL with the reason, for one cell."""
    geo = RESIDENCIES[cell.residency]
    if cell.violations:
        return f"FAIL: {len(cell.violations)} of {len(cell.data)} placements are outside {geo.name}"
    return f"PASS: all {len(cell.data)} placements of customer data are inside {geo.name}"


def _edge_note(cell: CellStatement) -> list[str]:
    return [f"Tenant images are also cached by CloudFront ({pc}) at edges in {PRICE_CLASS_EDGES.get(pc, pc)}; "
            "set `images.strict_residency: true` to serve them only from the cell's bucket by presigned URL."
            for pc in cell.edge_caches]


def render(env: Environment, plan: Plan) -> str:
    """The markdown page docs/residency/<env>.md."""
    found = assess(env, plan)
    cells, orphans, ok = found.cells, found.orphans, found.ok
    lines = [f"# Residency statement: `{env.name}`", "",
             f"Generated by `slotstack plan {env.name} --residency` from `{env.source}`; do not edit by hand.",
             "", f"**Overall verdict: {'PASS' if ok else 'FAIL'}**", ""]
    for cell in cells:
        lines += [f"## Cell `{cell.name}`: {RESIDENCIES[cell.residency].name}", "",
                  f"Verdict: **{verdict(cell)}**", "",
                  f"Countries where customer data is stored or processed: {', '.join(cell.countries) or 'none'}.",
                  "", "| Resource | Holds | Region | Country | Finding |", "|---|---|---|---|---|"]
        lines += [f"| `{p.resource}` | {p.holds} | {p.region or '-'} | {p.country} | {p.problem or 'inside'} |"
                  for p in cell.data]
        if cell.edge_caches:
            lines += ["", *_edge_note(cell)]
        lines += ["", "Exempt global resources, each with the reason it may be outside the geography:", ""]
        if cell.exempt:
            lines += ["| Resource | Type | Why exempt |", "|---|---|---|"]
            lines += [f"| `{name}` | `{type_}` | {reason} |" for name, type_, reason in cell.exempt]
        else:
            lines.append("None.")
        lines.append("")
    if found.shared_exempt:
        lines += ["## Exempt global resources shared by all cells", "", "| Resource | Type | Why exempt |",
                  "|---|---|---|"]
        lines += [f"| `{name}` | `{type_}` | {reason} |" for name, type_, reason in found.shared_exempt]
        lines.append("")
    if orphans:
        lines += ["## Data-bearing resources of no cell", "", "| Resource | Region | Finding |", "|---|---|---|"]
        lines += [f"| `{p.resource}` | {p.region or '-'} | {p.problem} |" for p in orphans]
        lines.append("")
    return "\n".join(lines)


def summary(env: Environment, plan: Plan) -> str:
    """The plain-text statement `slotstack plan ENV --residency` prints."""
    found = assess(env, plan)
    out = [f"residency of {env.name}: {'PASS' if found.ok else 'FAIL'}"]
    for cell in found.cells:
        out.append(f"cell {cell.name} ({cell.residency}): {verdict(cell)}")
        out += [f"  {p.region or '?':<20} {p.country:<16} {p.resource}: {p.holds}"
                + (f"  !! {p.problem}" if p.problem else "") for p in cell.data]
        out += [f"  note    {note}" for note in _edge_note(cell)]
        out += [f"  exempt  {name}: {reason}" for name, _, reason in cell.exempt]
    out += [f"  exempt  {name} (all cells): {reason}" for name, _, reason in found.shared_exempt]
    out += [f"no cell: {p.resource}: {p.problem}" for p in found.orphans]
    return "\n".join(out)
