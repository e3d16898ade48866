"""Generated Prometheus, blackbox_exporter and Alertmanager files pass the real tools' checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from uptime import config, promexport

from tests.monitoring.conftest import Pki
from tests.monitoring.helpers import base_config

pytestmark = pytest.mark.prometheus


def run(*cmd: str, cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture
def exported(tmp_path: Path, pki: Pki) -> tuple[Path, config.Config]:
    targets: list[dict[str, Any]] = [
        {"name": "eu-healthz", "cell": "eu", "url": "https://eu.example.com/healthz", "ca_file": str(pki.ca_file),
         "body_contains": "ok (v1.2)", "interval": "10s", "timeout": "5s"},
        {"name": "eu-readyz", "cell": "eu", "url": "https://eu.example.com/readyz", "cert_warn_days": 30},
        {"name": "us.healthz", "cell": "us", "url": "http://us.example.com/healthz", "body_regex": "^ok$"},
        {"name": "us-readyz", "cell": "us", "url": "http://us.example.com/readyz", "latency_budget": "800ms",
         "json": {"path": "status", "equals": "ready"}},
        {"name": "us-db", "cell": "us", "url": "http://us.example.com/readyz",
         "json": {"path": "checks.db", "equals": True}},
    ]
    channels = {"mail": {"type": "email", "host": "smtp.example.com", "port": 587, "username": "u",
                         "password_env": "PW", "from": "uptime@example.com"},
                "sms": {"type": "outbox", "directory": str(tmp_path / "sms")}}
    steps = [{"after": "0m", "notify": ["oncall"], "channels": ["sms", "mail"]},
             {"after": "15m", "notify": ["oncall_next"], "channels": ["sms"]}]
    doc = base_config(tmp_path, targets, channels, steps, maintenance=[
        {"name": "us-sunday", "cells": ["us"], "timezone": "America/Los_Angeles", "days": ["sunday"],
         "start": "06:00", "end": "09:00"},
        {"name": "eu-night", "cells": ["eu"], "timezone": "Europe/Berlin", "days": ["saturday"],
         "start": "23:00", "end": "01:00"}])
    doc["monitor"]["locations"] = ["frankfurt", "virginia", "sydney"]
    doc["thresholds"] = {"down_after": 3, "up_after": 2, "quorum": 2}
    cfg = config.parse(doc)
    out = tmp_path / "prom"
    promexport.write(cfg, out, "http://127.0.0.1:8470")
    return out, cfg


def test_promtool_and_amtool_accept_the_files(exported: tuple[Path, config.Config]) -> None:
    out, _ = exported
    assert "SUCCESS" in run("promtool", "check", "config", "prometheus.yml", cwd=out)
    assert "SUCCESS: 5 rules found" in run("promtool", "check", "rules", "rules.yml", cwd=out)
    assert "SUCCESS" in run("promtool", "test", "rules", "rules_test.yml", cwd=out)
    assert "SUCCESS" in run("amtool", "check-config", "alertmanager.yml", cwd=out)
    assert "Config file is ok" in run("prometheus-blackbox-exporter", "--config.check",
                                      "--config.file=blackbox.yml", cwd=out)


def test_rules_encode_quorum_and_thresholds(exported: tuple[Path, config.Config]) -> None:
    out, _ = exported
    rules = yaml.safe_load((out / "rules.yml").read_text())["groups"][0]["rules"]
    down = [r for r in rules if r["alert"] == "UptimeTargetDown"]
    # 3 consecutive failures at 10 s and 30 s intervals: the third failure comes 2 intervals after the first.
    assert [(r["for"], r["expr"].endswith(">= 2")) for r in down] == [("20s", True), ("60s", True)]
    assert 'target=~"us\\\\.healthz"' in down[1]["expr"] or 'us\\\\.healthz' in down[1]["expr"]
    certs = {r["alert"]: r["expr"] for r in rules if r["alert"].startswith("UptimeCertificate")}
    assert certs["UptimeCertificateCritical"].endswith("- time() < 604800")
    tests = yaml.safe_load((out / "rules_test.yml").read_text())["tests"]
    assert len(tests) == 2  # a quorum fires; one location short of it does not


def test_alertmanager_routes_groups_inhibits_and_mutes(exported: tuple[Path, config.Config]) -> None:
    out, _ = exported
    am = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert am["route"]["group_by"] == ["cell"]
    eu = next(r for r in am["route"]["routes"] if r["matchers"] == ['cell="eu"'])
    # One route per escalation step, timed by group_wait; warnings to the first step (email only).
    assert [(r["receiver"], r.get("group_wait")) for r in eu["routes"]] == [
        ("uptime-step-0", "10s"), ("uptime-step-1", "910s"), ("uptime-step-0", None)]
    assert am["route"]["repeat_interval"] == "14400s"
    assert eu["routes"][0]["mute_time_intervals"] == ["eu-night"]
    night = next(t for t in am["time_intervals"] if t["name"] == "eu-night")["time_intervals"]
    assert night == [
        {"weekdays": ["saturday"], "times": [{"start_time": "23:00", "end_time": "24:00"}],
         "location": "Europe/Berlin"},
        {"weekdays": ["sunday"], "times": [{"start_time": "00:00", "end_time": "01:00"}], "location": "Europe/Berlin"},
    ]
    assert am["inhibit_rules"] == [{"source_matchers": ['severity="page"'], "target_matchers": ['severity="warning"'],
                                    "equal": ["cell"]}]
    assert [r["webhook_configs"][0]["url"] for r in am["receivers"]] == [
        "http://127.0.0.1:8470/alertmanager", "http://127.0.0.1:8470/alertmanager/step-1"]
    assert all(r["webhook_configs"][0]["http_config"] == {
        "authorization": {"type": "Bearer", "credentials_file": "/etc/alertmanager/uptime_token"}}
        for r in am["receivers"])
    assert "email_configs" not in str(am)  # nobody is emailed all at once: the steps decide


def test_prometheus_jobs_one_per_location(exported: tuple[Path, config.Config]) -> None:
    out, _ = exported
    prom = yaml.safe_load((out / "prometheus.yml").read_text())
    assert [j["job_name"] for j in prom["scrape_configs"]] == ["uptime-frankfurt", "uptime-virginia", "uptime-sydney"]
    blackbox = yaml.safe_load((out / "blackbox.yml").read_text())["modules"]
    assert blackbox["uptime_eu_healthz"]["http"]["fail_if_body_not_matches_regexp"] == [r"ok\ \(v1\.2\)"]
    assert blackbox["uptime_us_healthz"]["http"]["fail_if_body_not_matches_regexp"] == ["^ok$"]
    # The checks the first export dropped: json and latency budget (issue 15, finding 5).
    assert blackbox["uptime_us_readyz"] == {"prober": "http", "timeout": "800ms", "http": {
        "method": "GET", "valid_status_codes": [200], "preferred_ip_protocol": "ip4", "follow_redirects": False,
        "fail_if_body_not_matches_regexp": ['"status"\\s*:\\s*"ready"']}}
    assert blackbox["uptime_us_db"]["http"]["fail_if_body_not_matches_regexp"] == ['"db"\\s*:\\s*true\\s*[,}\\]]']


@pytest.mark.parametrize(("down_after", "quorum", "locations"),
                         [(1, 1, ["local"]), (2, 3, ["a", "b", "c"]), (4, 1, ["a", "b"])])
def test_generated_rule_tests_pass_for_other_thresholds(tmp_path: Path, down_after: int, quorum: int,
                                                        locations: list[str]) -> None:
    cfg = config.parse({"monitor": {"locations": locations},
                        "thresholds": {"down_after": down_after, "quorum": quorum},
                        "targets": [{"name": "eu.api", "cell": "eu", "url": "https://eu.example.com/",
                                     "interval": "15s"}]})
    promexport.write(cfg, tmp_path)
    assert "SUCCESS" in run("promtool", "test", "rules", "rules_test.yml", cwd=tmp_path)
    expected_for = f"{(down_after - 1) * 15}s"
    rules = yaml.safe_load((tmp_path / "rules.yml").read_text())["groups"][0]["rules"]
    assert rules[0]["for"] == expected_for


def test_tcp_tls_and_dns_checks_export_to_blackbox_modules_and_heartbeats_are_named(tmp_path: Path) -> None:
    cfg = config.parse(base_config(tmp_path, [
        {"name": "eu-db", "cell": "eu", "type": "tcp", "url": "tcp://db.eu.example.com:5432"},
        {"name": "eu-smtps", "cell": "eu", "type": "tls", "url": "tls://smtp.eu.example.com:465"},
        {"name": "eu-dns", "cell": "eu", "type": "dns", "url": "dns://1.1.1.1",
         "dns": {"name": "api.eu.example.com", "expect": ["10.0.0.7"]}},
        {"name": "eu-backup", "cell": "eu", "type": "heartbeat", "every": "1d"},
    ], {}))
    promexport.write(cfg, tmp_path / "out")
    out = tmp_path / "out"
    assert "Config file is ok" in run("prometheus-blackbox-exporter", "--config.check", "--config.file=blackbox.yml",
                                      cwd=out)
    assert "SUCCESS" in run("promtool", "check", "config", "prometheus.yml", cwd=out)
    modules = yaml.safe_load((out / "blackbox.yml").read_text())["modules"]
    assert modules["uptime_eu_smtps"] == {"prober": "tcp", "timeout": "10s", "tcp": {
        "preferred_ip_protocol": "ip4", "tls": True, "tls_config": {"server_name": "smtp.eu.example.com"}}}
    assert modules["uptime_eu_dns"]["dns"]["query_name"] == "api.eu.example.com"
    assert "uptime_eu_backup" not in modules
    jobs = yaml.safe_load((out / "prometheus.yml").read_text())["scrape_configs"][0]["static_configs"]
    assert [j["targets"] for j in jobs] == [["db.eu.example.com:5432"], ["smtp.eu.example.com:465"], ["1.1.1.1:53"]]
    assert promexport.limits(cfg) == [("cannot", "eu-backup: a heartbeat is pushed by its job to the monitor; "
                                                 "Prometheus and blackbox_exporter only pull, so keep this check on "
                                                 "the uptime monitor")]


def test_export_names_what_it_cannot_export_and_strict_fails(tmp_path: Path) -> None:
    from uptime import cli

    doc = base_config(tmp_path, [
        {"name": "eu-a", "cell": "eu", "url": "http://eu.example.com/", "json": {"path": "v", "equals": [1, 2]}},
        {"name": "eu-b", "cell": "eu", "url": "http://eu.example.com/", "json": {"path": "a.b", "equals": 1}},
    ], {"sms": {"type": "outbox", "directory": str(tmp_path / "sms")}})
    path = tmp_path / "uptime.yaml"
    path.write_text(yaml.safe_dump(doc))
    args = ["export", "prometheus", "--config", str(path), "--out", str(tmp_path / "out")]
    proc = subprocess.run([sys.executable, "-m", "uptime.cli", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        "not exported: eu-a: json.equals is a list; blackbox_exporter has no JSON assertion for it, so this check "
        "is left out",
        "approximated: eu-b: json.path a.b is matched as key 'b' at any depth",
    ]
    assert cli.main([*args, "--strict"]) == 1
