"""Geographies a cell may live in: the residency table of DESIGN.md as data.

Every check that keeps customer data in its geography reads this module: the environment loader,
the Pulumi program, the policy pack and the residency statement. Change the table here and all of
them follow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Residency:
    """One geography a tenant can choose for its data."""

    code: str
    name: str
    azure_pairs: tuple[tuple[str, str], ...]
    """Allowed (primary, secondary) Azure region pairs, the default first. Pairs are symmetric."""
    aws_regions: tuple[str, ...]
    """Allowed AWS regions for images, the default first."""
    cloudfront_price_class: str
    """The cheapest CloudFront price class whose edges include this geography."""

    @property
    def azure_regions(self) -> tuple[str, ...]:
        """Every Azure region allowed in this geography, in table order."""
        seen: list[str] = []
        for primary, secondary in self.azure_pairs:
            for region in (primary, secondary):
                if region not in seen:
                    seen.append(region)
        return tuple(seen)

    def pair_of(self, region: str) -> str | None:
        """The Azure paired region of `region` within this geography, or None."""
        for primary, secondary in self.azure_pairs:
            if region == primary:
                return secondary
            if region == secondary:
                return primary
        return None


RESIDENCIES: dict[str, Residency] = {
    "us": Residency(
        code="us",
        name="United States",
        azure_pairs=(
            ("eastus2", "centralus"),
            ("eastus", "westus"),
            ("westus2", "westcentralus"),
            ("southcentralus", "northcentralus"),
        ),
        aws_regions=("us-east-1", "us-east-2", "us-west-2"),
        cloudfront_price_class="PriceClass_100",
    ),
    "eu": Residency(
        code="eu",
        name="European Union",
        azure_pairs=(
            ("westeurope", "northeurope"),
            ("germanywestcentral", "germanynorth"),
            ("francecentral", "francesouth"),
            ("swedencentral", "swedensouth"),
        ),
        aws_regions=("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"),
        cloudfront_price_class="PriceClass_100",
    ),
    "au": Residency(
        code="au",
        name="Australia",
        azure_pairs=(
            ("australiaeast", "australiasoutheast"),
            ("australiacentral", "australiacentral2"),
        ),
        aws_regions=("ap-southeast-2", "ap-southeast-4"),
        # Australian and New Zealand edges are only in PriceClass_All.
        cloudfront_price_class="PriceClass_All",
    ),
}

# Where each region physically is: what an enterprise security questionnaire asks for. Regions of
# other geographies are listed too so that an error can say where a wrong region would have put data.
REGION_LOCATIONS: dict[str, tuple[str, str]] = {
    # Azure, us
    "eastus": ("United States", "Virginia"),
    "eastus2": ("United States", "Virginia"),
    "centralus": ("United States", "Iowa"),
    "westus": ("United States", "California"),
    "westus2": ("United States", "Washington"),
    "westus3": ("United States", "Arizona"),
    "westcentralus": ("United States", "Wyoming"),
    "southcentralus": ("United States", "Texas"),
    "northcentralus": ("United States", "Illinois"),
    # Azure, eu
    "westeurope": ("Netherlands", "Amsterdam"),
    "northeurope": ("Ireland", "Dublin"),
    "germanywestcentral": ("Germany", "Frankfurt"),
    "germanynorth": ("Germany", "Berlin"),
    "francecentral": ("France", "Paris"),
    "francesouth": ("France", "Marseille"),
    "swedencentral": ("Sweden", "Gävle"),
    "swedensouth": ("Sweden", "Malmö"),
    # Azure, au
    "australiaeast": ("Australia", "New South Wales"),
    "australiasoutheast": ("Australia", "Victoria"),
    "australiacentral": ("Australia", "Canberra"),
    "australiacentral2": ("Australia", "Canberra"),
    # Azure, outside every residency (Europe but not EU, and others users mistype)
    "uksouth": ("United Kingdom", "London"),
    "ukwest": ("United Kingdom", "Cardiff"),
    "switzerlandnorth": ("Switzerland", "Zurich"),
    "switzerlandwest": ("Switzerland", "Geneva"),
    "norwayeast": ("Norway", "Oslo"),
    "norwaywest": ("Norway", "Stavanger"),
    "canadacentral": ("Canada", "Toronto"),
    "canadaeast": ("Canada", "Quebec City"),
    "southeastasia": ("Singapore", "Singapore"),
    "eastasia": ("Hong Kong", "Hong Kong"),
    "japaneast": ("Japan", "Tokyo"),
    "brazilsouth": ("Brazil", "São Paulo"),
    "centralindia": ("India", "Pune"),
    # AWS
    "us-east-1": ("United States", "N. Virginia"),
    "us-east-2": ("United States", "Ohio"),
    "us-west-1": ("United States", "N. California"),
    "us-west-2": ("United States", "Oregon"),
    "eu-central-1": ("Germany", "Frankfurt"),
    "eu-west-1": ("Ireland", "Dublin"),
    "eu-west-2": ("United Kingdom", "London"),
    "eu-west-3": ("France", "Paris"),
    "eu-north-1": ("Sweden", "Stockholm"),
    "eu-central-2": ("Switzerland", "Zurich"),
    "ap-southeast-2": ("Australia", "Sydney"),
    "ap-southeast-4": ("Australia", "Melbourne"),
    "ap-southeast-1": ("Singapore", "Singapore"),
    "ap-northeast-1": ("Japan", "Tokyo"),
    "ca-central-1": ("Canada", "Montreal"),
}


def residency_of_region(region: str) -> str | None:
    """The residency code whose table allows `region` (Azure or AWS), or None."""
    for residency in RESIDENCIES.values():
        if region in residency.azure_regions or region in residency.aws_regions:
            return residency.code
    return None


def describe_region(region: str) -> str:
    """`region` with its country, e.g. "uksouth (United Kingdom)", for messages and statements."""
    location = REGION_LOCATIONS.get(region)
    return f"{region} ({location[0]})" if location else region


def country_of(region: str) -> str:
    """The country a region is in, or "unknown"."""
    location = REGION_LOCATIONS.get(region)
    return location[0] if location else "unknown"
