"""Workspace-based Application Insights and its standard availability tests for one cell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights

from infra.observability.locations import MIN_CONTINENTS, continent_of

HEALTHZ_PATH = "/healthz"
# `booking create-tenant --demo` gives every demo tenant this service (app/booking/demo.py); finding it
# on the page proves the database answered, not just the web server.
DEMO_SERVICE = "Consultation"
MIN_CERT_DAYS = 14
FREQUENCY_SECONDS = 300
TIMEOUT_SECONDS = 30


@dataclass
class AvailabilityArgs:
    """Inputs of `Availability`."""

    resource_group_name: pulumi.Input[str]
    """Resource group in the cell's primary region."""
    location: str
    """The cell's primary region (Application Insights stores the test results there)."""
    workspace_id: pulumi.Input[str]
    """The cell's Log Analytics workspace (workspace-based Application Insights)."""
    component_name: str
    """Application Insights name, owned by the caller's naming."""
    hostname: str
    """The cell's public hostname (`cell.hostname`)."""
    test_locations: list[str]
    """Azure test location ids (see `locations.pick_locations`); >= 5 on >= 3 continents."""
    tags: Mapping[str, str]
    """The cell tags."""
    booking_path: str
    """Path of the demo tenant's public booking page, e.g. /demo-eu."""
    booking_text: str | None = DEMO_SERVICE
    """Text the booking page must contain; None checks the status only."""
    min_cert_days: int = MIN_CERT_DAYS
    """The TLS check fails when the certificate expires in fewer days than this."""


def test_url(hostname: str, path: str) -> str:
    """The https URL a web test requests."""
    if not path.startswith("/"):
        raise ValueError(f"availability test path {path!r} must start with '/', e.g. /healthz")
    return f"https://{hostname}{path}"


def check_locations(locations: list[str], minimum: int = 5) -> None:
    """Refuse a location list that one continent's network trouble could fail as a whole."""
    continents = {continent_of(location) for location in locations}
    if len(set(locations)) < minimum or len(continents) < MIN_CONTINENTS:
        raise ValueError(f"availability tests need >= {minimum} distinct locations on >= {MIN_CONTINENTS} "
                         f"continents; got {len(set(locations))} on {sorted(continents)}")


class Availability(pulumi.ComponentResource):
    """Application Insights + standard web tests on /healthz and the demo booking page."""

    component_id: pulumi.Output[str]
    web_test_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AvailabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:Availability", name, None, opts)
        check_locations(args.test_locations)
        child = pulumi.ResourceOptions(parent=self)
        component = applicationinsights.Component(
            f"{name}-appi",
            resource_name_=args.component_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=args.workspace_id,
            tags=dict(args.tags),
            opts=child,
        )
        # Azure links a web test to its component only through this tag; without it the test runs but
        # its results and its alert are orphaned.
        tags = component.id.apply(lambda cid: {**args.tags, f"hidden-link:{cid}": "Resource"})
        self.web_test_ids = {}
        for key, path, text in (("healthz", HEALTHZ_PATH, None), ("booking", args.booking_path, args.booking_text)):
            test_name = f"{args.component_name}-{key}"
            rules: applicationinsights.WebTestPropertiesValidationRulesArgsDict = {
                "expected_http_status_code": 200, "s_sl_check": True,
                "s_sl_cert_remaining_lifetime_check": args.min_cert_days}
            if text:
                rules["content_validation"] = {"content_match": text, "ignore_case": False,
                                               "pass_if_text_found": True}
            test = applicationinsights.WebTest(
                f"{name}-{key}",
                web_test_name=test_name,
                synthetic_monitor_id=test_name,
                resource_group_name=args.resource_group_name,
                location=args.location,
                kind=applicationinsights.WebTestKind.STANDARD,
                web_test_kind=applicationinsights.WebTestKind.STANDARD,
                description=f"GET {test_url(args.hostname, path)} from {len(args.test_locations)} locations",
                enabled=True,
                frequency=FREQUENCY_SECONDS,
                timeout=TIMEOUT_SECONDS,
                retry_enabled=True,
                locations=[{"location": location} for location in args.test_locations],
                request={"request_url": test_url(args.hostname, path), "http_verb": "GET",
                         "parse_dependent_requests": False, "follow_redirects": False},
                validation_rules=rules,
                tags=tags,
                opts=child,
            )
            self.web_test_ids[key] = test.id
        self.component_id = component.id
        self.register_outputs({"component_id": self.component_id, "web_test_ids": self.web_test_ids})
