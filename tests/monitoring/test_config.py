"""Config loading and validation: the example is valid, and every mistake names key, value and fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from uptime import config
from uptime.configparse import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "monitoring" / "uptime.example.yaml"


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return copy.deepcopy(data)


def test_example_config_is_valid_and_complete() -> None:
    cfg = config.load(EXAMPLE)
    assert cfg.cells() == ["us", "eu", "au"]
    assert [t.name for t in cfg.cell_targets("eu")] == ["eu-healthz", "eu-readyz", "eu-openapi"]
    assert {c.type for c in cfg.channels.values()} == {"twilio", "acs_sms", "sns", "email", "webhook", "outbox",
                                                       "pagerduty", "opsgenie", "slack", "teams"}
    assert cfg.thresholds.flapping.high == 30
    assert cfg.thresholds.down_after == 2
    assert cfg.thresholds.up_after == 2
    au = cfg.targets[-1]
    assert (au.interval, au.timeout, au.headers) == (60.0, 5.0, {"Accept": "application/json"})
    assert cfg.escalation.reminder_every == 600
    assert [s.after for s in cfg.escalation.steps] == [0, 900, 1800]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    node: Any = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("targets.0.url", "ftp://x", "targets[0].url: 'ftp://x' is not an http(s) URL"),
        ("targets.0.interval", "soon", "targets[0].interval: 'soon' is not a duration"),
        ("targets.0.expect_status", [200, 700], "targets[0].expect_status: [200, 700] must be HTTP status codes"),
        ("targets.1.body_regex", "(", "targets[1].body_regex: '(' is not a valid regex"),
        ("targets.2.name", "us-healthz", "targets[2].name: 'us-healthz' is used twice"),
        ("targets.0.timeout", "1m", "targets[0].timeout: 60s is longer than the interval 30s"),
        ("targets.0.colour", "red", "targets[0].colour: unknown key 'colour'; allowed:"),
        ("thresholds.quorum", 2, "thresholds.quorum: 2 is more than the 1 location(s)"),
        ("thresholds.down_after", 0, "thresholds.down_after: 0 is out of range; allowed 1..100"),
        ("channels.sms.type", "pigeon", "channels.sms.type: 'pigeon' is not a channel type; allowed: email,"),
        ("channels.sms.account_sid", "nope", "channels.sms.account_sid: 'nope' does not match"),
        ("channels.email.password", "hunter2", "channels.email.password: secrets are never read from the file"),
        ("oncall.timezone", "Mars/Olympus", "oncall.timezone: 'Mars/Olympus' is not an IANA time zone"),
        ("oncall.rotation", ["alice", "zed"], "oncall.rotation: 'zed' is not listed under people"),
        ("people.bob.phone", "555-0112", "people.bob.phone: '555-0112' is not an E.164 number"),
        ("escalation.steps.1.channels", ["fax"], "escalation.steps[1].channels: 'fax' is not a configured channel"),
        ("escalation.steps.2.after", "1m", "escalation.steps[2].after: steps must be in order"),
        ("maintenance.0.days", ["caturday"], "maintenance[0].days: 'caturday' is not a weekday"),
        ("maintenance.0.start", "25:00", "maintenance[0].start: '25:00' is not a time of day"),
        ("maintenance.0.cells", ["mars"], "maintenance[0].cells: 'mars' has no targets"),
        ("monitor.listen", "8470", "monitor.listen: '8470' is not HOST:PORT"),
    ],
)
def test_invalid_values_are_named_with_key_and_value(path: str, value: Any, message: str) -> None:
    data = example()
    _set(data, path, value)
    with pytest.raises(ConfigError) as excinfo:
        config.parse(data)
    assert message in str(excinfo.value)


def test_missing_targets_and_unreadable_file_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"targets: expected a non-empty list of targets, got None"):
        config.parse({})
    with pytest.raises(ConfigError, match=r"cannot read config .*nope.yaml: No such file or directory; check"):
        config.load(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML"):
        config.load(broken)


def test_yaml_examples_in_the_docs_are_valid() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```yaml\n")[1:]]
    assert blocks, "docs/monitoring.md has no yaml example"
    for block in blocks:
        cfg = config.parse(yaml.safe_load(block))
        assert cfg.targets
