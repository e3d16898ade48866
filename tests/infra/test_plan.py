"""`slotstack plan ENV [--json]`: validates first, then lists every resource per cell offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra import cli, environment
from infra.compute.settings import Wheel

BAD_ENV = """\
config:
  slotstack:cells:
    au:
      residency: au
      primary_region: australiaeast
      secondary_region: australiasoutheast
      aws_region: us-east-1
      hostname: au.bad.book.example.com
  slotstack:oncall:
    receivers:
      - {name: Someone, email: someone@example.com}
"""


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_plan_json_lists_every_resource_of_every_cell(
    name: str, fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["plan", name, "--json", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)]
    )
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    env = environment.load(name)
    assert doc["environment"] == name
    assert set(doc["cells"]) == set(env.cells), "plan must have exactly the environment's cells (nothing outside)"
    for cell_name, cell in doc["cells"].items():
        spec = env.cells[cell_name]
        assert cell["count"] == len(cell["resources"]) > 0
        keys = [(r["type"], r["name"]) for r in cell["resources"]]
        assert keys == sorted(keys), "resources are listed in a stable order so plans diff cleanly"
        groups = [r for r in cell["resources"] if r["type"] == "azure-native:resources:ResourceGroup"]
        assert sorted(r["region"] for r in groups) == sorted([spec.primary_region, spec.secondary_region])
        for resource in cell["resources"]:
            assert set(resource) == {"type", "name", "region"}
            assert resource["name"].startswith(f"{cell_name}-")
            assert not resource["type"].startswith("slotstack:"), "components are not cloud resources"
    shared = doc["shared"]["resources"]
    assert doc["total"] == sum(c["count"] for c in doc["cells"].values()) + len(shared)
    # Outside the cells only the environment-wide pieces: action groups, OIDC provider, the monitor on AWS.
    assert shared
    assert {r["name"].split("-")[0] for r in shared} <= {"shared", "oncall", "entra", "uptime"}


def test_plan_table_shows_type_name_and_region_per_cell(
    fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["plan", "staging", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "cell us (us; primary eastus2, secondary centralus, aws us-east-2)" in out
    assert "cell eu (eu; primary germanywestcentral, secondary germanynorth, aws eu-central-1)" in out
    assert re.search(r"^  azure-native:resources:ResourceGroup +eu-rg-primary  \[germanywestcentral\]$", out, re.M)
    assert "nothing was changed" in out.splitlines()[-1]


def test_invalid_environment_prints_problems_and_plans_nothing(
    tmp_path: Path, fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(BAD_ENV, encoding="utf-8")
    code = cli.main(
        ["plan", str(bad), "--json", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)]
    )
    captured = capsys.readouterr()
    assert code == 2, "bad configuration exits 2 (the CLIs' convention: 0 ok, 1 a problem found, 2 bad usage/config)"
    assert captured.out == "", "an invalid environment must plan nothing"
    assert "cells.au.aws_region" in captured.err
    assert "'us-east-1' (United States) is outside residency 'au'" in captured.err
    assert "nothing was planned" in captured.err


def test_unknown_environment_names_the_ones_that_exist(
    capsys: pytest.CaptureFixture[str], fixture_wheel: Wheel, fixture_uptime_wheel: Path
) -> None:
    code = cli.main(["plan", "qa", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)])
    err = capsys.readouterr().err
    assert code == 2
    assert "no such environment file" in err
    assert "dev, local, prod, staging" in err


def test_plan_residency_prints_the_verdict_and_writes_the_statement(
    tmp_path: Path, fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "plan",
            "dev",
            "--json",
            "--residency",
            "--residency-dir",
            str(tmp_path),
            "--wheel",
            str(fixture_wheel.path),
            "--monitor-wheel",
            str(fixture_uptime_wheel),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["environment"] == "dev", "--json stays one document on stdout"
    assert "residency of dev: PASS" in captured.err
    page = (tmp_path / "dev.md").read_text(encoding="utf-8")
    assert page.startswith("# Residency statement: `dev`")
    assert "us-fleet-primary-vmss" in page, "the fleet processes tenant data and must be listed"


def test_sub_resources_are_shown_in_their_resource_groups_region(
    fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            ["plan", "dev", "--json", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)]
        )
        == 0
    )
    resources = {r["name"]: r for r in json.loads(capsys.readouterr().out)["cells"]["us"]["resources"]}
    assert resources["us-net-secondary-snet-app"]["region"] == "centralus"
    assert resources["us-kv-kek"]["region"] == "eastus2"
    unlocated = {r["type"] for r in resources.values() if r["region"] == "-"}
    # A generated password has no region; role assignments are scoped by id, not placed.
    assert unlocated <= {"azure-native:authorization:RoleAssignment", "random:index/randomPassword:RandomPassword"}, (
        unlocated)


def test_plan_lists_each_cells_alerts_and_who_receives_them(
    fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", "prod", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)]
    assert cli.main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    env = environment.load("prod")
    cells = {row["cell"] for row in doc["alerts"]}
    assert cells == set(env.cells)
    healthz = next(r for r in doc["alerts"] if r["cell"] == "eu" and r["alert"] == "availability-healthz")
    assert healthz["severity"] == 0
    assert [r["name"] for r in healthz["receivers"]] == [r.name for r in env.oncall.receivers]
    assert all(r["sms"] for r in healthz["receivers"]), "Sev0 pages everyone with a phone by SMS"
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "alerts (Sev0/1 page by SMS and email, Sev2-4 email only):" in text
    assert "+1555" not in text, "phone numbers are never printed (they may be secrets)"
