"""The environment model: committed environments load; bad files fail with messages that help."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra import environment
from infra.cli import main
from infra.environment import InvalidEnvironment

COMMITTED = ("dev", "staging", "prod", "local")


def _base() -> dict:
    return yaml.safe_load(environment.path_of("prod").read_text())


def _problems(tmp_path: Path, document: dict | str, name: str = "prod") -> list[str]:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(InvalidEnvironment) as info:
        environment.load_file(path)
    return info.value.problems


def _cell(document: dict, name: str) -> dict:
    return document["config"]["slotstack:cells"][name]


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_environment_loads(name: str) -> None:
    env = environment.load(name)
    assert env.name == name
    assert env.cells, f"{name} has no cells"
    for cell in env.cells.values():
        assert cell.secondary_region != cell.primary_region


def test_environments_have_the_cells_the_design_promises() -> None:
    assert list(environment.load("dev").cells) == ["us"]
    assert list(environment.load("staging").cells) == ["us", "eu"]
    assert list(environment.load("prod").cells) == ["us", "eu", "au"]
    dev = environment.load("dev").cells["us"]
    assert dev.database.ha == "Disabled"
    assert not dev.database.replica
    for cell in environment.load("prod").cells.values():
        assert cell.database.ha == "ZoneRedundant"
        assert cell.database.replica


def test_committed_receivers_are_fictitious() -> None:
    for name in COMMITTED:
        for receiver in environment.load(name).oncall.receivers:
            assert receiver.email.endswith("@example.com"), receiver
            assert receiver.phone is None or str(receiver.phone).startswith("+155501"), receiver


def test_unknown_residency(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "eu")["residency"] = "uk"
    problems = _problems(tmp_path, doc)
    assert any("cells.eu.residency: 'uk' is not allowed (allowed: us, eu, au)" in p for p in problems), problems


def test_primary_outside_geography(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "au")["primary_region"] = "southeastasia"
    problems = _problems(tmp_path, doc)
    assert any("cells.au.primary_region: 'southeastasia' (Singapore) is outside residency 'au' "
               "(allowed: australiaeast, australiasoutheast, australiacentral, australiacentral2)" in p
               for p in problems), problems


def test_secondary_outside_geography_names_the_pair(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "eu")["secondary_region"] = "uksouth"
    problems = _problems(tmp_path, doc)
    assert problems == [f"{tmp_path / 'Pulumi.prod.yaml'}: cells.eu.secondary_region: 'uksouth' "
                        "is outside residency 'eu' (pair of westeurope is northeurope)"]


def test_secondary_in_geography_but_not_the_pair(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "eu")["secondary_region"] = "germanynorth"
    problems = _problems(tmp_path, doc)
    assert any("cells.eu.secondary_region: 'germanynorth' is not the Azure pair of westeurope "
               "(pair of westeurope is northeurope)" in p for p in problems), problems


def test_aws_region_outside_geography(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "au")["aws_region"] = "us-east-1"
    problems = _problems(tmp_path, doc)
    assert any("cells.au.aws_region: 'us-east-1' (United States) is outside residency 'au' "
               "(allowed: ap-southeast-2, ap-southeast-4)" in p for p in problems), problems


@pytest.mark.parametrize(("key", "region", "country"), [
    ("primary_region", "uksouth", "United Kingdom"),
    ("primary_region", "switzerlandnorth", "Switzerland"),
    ("primary_region", "norwayeast", "Norway"),
    ("aws_region", "eu-west-2", "United Kingdom"),
    ("aws_region", "eu-central-2", "Switzerland"),
])
def test_uk_switzerland_norway_are_not_eu(tmp_path: Path, key: str, region: str, country: str) -> None:
    doc = _base()
    _cell(doc, "eu")[key] = region
    problems = _problems(tmp_path, doc)
    assert any(f"cells.eu.{key}: '{region}' ({country}) is outside residency 'eu'" in p for p in problems), problems


def test_missing_required_key(tmp_path: Path) -> None:
    doc = _base()
    del _cell(doc, "us")["hostname"]
    problems = _problems(tmp_path, doc)
    assert any(p.endswith("cells.us.hostname: is required but missing") for p in problems), problems


def test_wrong_type(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "us")["fleet"]["min"] = "three"
    _cell(doc, "us")["database"]["replica"] = "yes"
    problems = _problems(tmp_path, doc)
    assert any("cells.us.fleet.min: expected an integer from 1 to 100, got a string 'three'" in p
               for p in problems), problems
    assert any("cells.us.database.replica: expected true or false, got a string 'yes'" in p for p in problems)


def test_min_greater_than_max(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "us")["fleet"].update(min=8, max=4)
    problems = _problems(tmp_path, doc)
    assert any("cells.us.fleet.min: 8 is greater than fleet.max 4; min must be <= max" in p for p in problems)


def test_duplicate_hostnames(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "eu")["hostname"] = "us.book.example.com"
    problems = _problems(tmp_path, doc)
    assert any("cells.eu.hostname: 'us.book.example.com' is already used by cells.us" in p for p in problems)


def test_unknown_key_gets_did_you_mean(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "us")["secondary_regoin"] = _cell(doc, "us").pop("secondary_region")
    problems = _problems(tmp_path, doc)
    assert any("cells.us.secondary_regoin: unknown key; did you mean 'secondary_region'?" in p for p in problems)
    assert any("cells.us.secondary_region: is required but missing" in p for p in problems)


def test_empty_file(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "")
    assert problems == [f"{tmp_path / 'Pulumi.prod.yaml'}: the file is empty; it needs a 'config:' mapping "
                        "with slotstack:cells"]


def test_yaml_syntax_error_has_line_number(tmp_path: Path) -> None:
    text = "config:\n  slotstack:cells:\n    us: {residency: us\n  slotstack:alerts: {}\n"
    problems = _problems(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'Pulumi.prod.yaml'}:4:")
    assert "YAML syntax error" in problems[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "us")["aws_region"] = "eu-west-1"
    _cell(doc, "eu")["secondary_region"] = "uksouth"
    _cell(doc, "au")["fleet"]["max"] = 0
    doc["config"]["slotstack:alerts"]["cpu_percent"] = 180
    problems = _problems(tmp_path, doc)
    keys = [p.split(": ")[1] for p in problems]
    assert keys == ["cells.us.aws_region", "cells.eu.secondary_region", "cells.au.fleet.max", "alerts.cpu_percent"]


def test_escalation_names_unknown_receiver(tmp_path: Path) -> None:
    doc = _base()
    doc["config"]["slotstack:oncall"]["escalation"][1]["notify"] = ["Bob Nobody"]
    problems = _problems(tmp_path, doc)
    assert any("oncall.escalation[1].notify: 'Bob Nobody' is not a receiver" in p for p in problems)


def test_phone_may_be_a_pulumi_secret(tmp_path: Path) -> None:
    doc = _base()
    doc["config"]["slotstack:oncall"]["receivers"][0]["phone"] = {"secure": "v1:abc=="}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = environment.load_file(path)
    phone = env.oncall.receivers[0].phone
    assert str(phone) == "[secret]"
    assert getattr(phone, "path", "") == "oncall.receivers[0].phone"


def test_failover_needs_a_replica(tmp_path: Path) -> None:
    doc = _base()
    _cell(doc, "us")["database"]["replica"] = False
    _cell(doc, "us")["active_region"] = "secondary"
    problems = _problems(tmp_path, doc)
    assert any("cells.us.active_region: 'secondary' needs database.replica: true" in p for p in problems)


def test_cli_validate_all_committed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    for name in COMMITTED:
        assert f"Pulumi.{name}.yaml: ok" in out


def test_cli_validate_bad_file_exits_1_with_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _base()
    _cell(doc, "au")["aws_region"] = "us-east-1"
    _cell(doc, "eu")["secondary_region"] = "uksouth"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "cells.eu.secondary_region: 'uksouth' is outside residency 'eu'" in out
    assert "cells.au.aws_region: 'us-east-1' (United States) is outside residency 'au'" in out
    assert "1 of 1 environment(s) invalid" in out


def test_cli_validate_unknown_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "qa"]) == 1
    assert "no such environment file (environments here: dev, local, prod, staging)" in capsys.readouterr().out


def test_monitor_sites_must_span_continents(tmp_path: Path) -> None:
    doc = _base()
    doc["config"]["slotstack:monitor"].update(core_region="us-east-2", agent_regions=["us-west-2", "us-east-1"])
    problems = _problems(tmp_path, doc)
    assert any("monitor.agent_regions: ['us-west-2', 'us-east-1']: need at least two agent regions and sites on "
               "at least two continents" in p for p in problems), problems


def test_monitor_defaults_when_absent() -> None:
    monitor = environment.load("dev").monitor
    assert monitor.core_region == "us-east-2"
    assert monitor.agent_regions == ("eu-west-1", "ap-southeast-2")
    assert monitor.quorum == 2
