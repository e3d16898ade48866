"""``uptime export prometheus``: the same checks, thresholds and paging for teams that run Prometheus.

Writes ``blackbox.yml`` (one module per target), ``prometheus.yml`` (one scrape job per location),
``rules.yml`` (quorum across locations, ``for:`` matching down_after x interval, certificate expiry),
``rules_test.yml`` (promtool unit tests of those rules) and ``alertmanager.yml`` (routes per cell and
severity, ``group_by: [cell]``, inhibition, maintenance ``time_intervals``, email and the monitor's
``/alertmanager`` webhook that sends SMS).
"""

from __future__ import annotations

import json
import re
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from uptime.config import Config, Target
from uptime.configparse import WEEKDAYS

JOB_PREFIX = "uptime-"


def _module(target: Target) -> str:
    return "uptime_" + re.sub(r"[^a-zA-Z0-9_]", "_", target.name)


def _seconds(value: float) -> str:
    return f"{int(value)}s" if value >= 1 else f"{int(value * 1000)}ms"


def _json_pattern(target: Target) -> str | None:
    """A regex that a body passing the target's JSON check matches, or None when there is none.

    blackbox_exporter 0.23 (Debian's) has no JSON assertion, so the value is matched as JSON text after
    its key. For a dotted path the key is matched at any depth: weaker than the monitor's check, and said so.
    """
    check = target.json
    if check is None or isinstance(check.equals, dict | list):
        return None
    key = check.path.rpartition(".")[2]
    value = json.dumps(check.equals)
    # A number or literal must end there, so 200 does not match 2000.
    end = "" if isinstance(check.equals, str) else r"\s*[,}\]]"
    return rf'"{re.escape(key)}"\s*:\s*{re.escape(value)}{end}'


def exportable(config: Config) -> list[Target]:
    """The targets Prometheus can probe: all but heartbeats (a job pushes those to the monitor)."""
    return [t for t in config.targets if t.type != "heartbeat"]


def _address(target: Target) -> str:
    """What blackbox_exporter's ``target`` parameter is for this check: a URL, or HOST:PORT."""
    if target.type == "http":
        return target.url
    parts = urlsplit(target.url)
    return f"{parts.hostname}:{parts.port or 53}"


def limits(config: Config) -> list[tuple[str, str]]:
    """(severity, message) for each check the export cannot carry over exactly: ``cannot`` (dropped) or
    ``approximate`` (exported, but weaker than the monitor's own check)."""
    out = []
    for target in config.targets:
        if target.type == "heartbeat":
            out.append(("cannot", f"{target.name}: a heartbeat is pushed by its job to the monitor; Prometheus "
                                  "and blackbox_exporter only pull, so keep this check on the uptime monitor"))
        if target.dns is not None and len(target.dns.expect) > 1:
            out.append(("approximate", f"{target.name}: blackbox_exporter checks that one of the "
                                       f"{len(target.dns.expect)} expected records is in the answer, not all"))
        check = target.json
        if check is not None and isinstance(check.equals, dict | list):
            out.append(("cannot", f"{target.name}: json.equals is a {type(check.equals).__name__}; "
                                  "blackbox_exporter has no JSON assertion for it, so this check is left out"))
        elif check is not None and "." in check.path:
            out.append(("approximate", f"{target.name}: json.path {check.path} is matched as key "
                                       f"{check.path.rpartition('.')[2]!r} at any depth"))
    return out


def blackbox(config: Config) -> dict[str, Any]:
    """blackbox_exporter modules mirroring each target's checks (see :func:`limits` for what they cannot)."""
    modules: dict[str, Any] = {}
    for target in exportable(config):
        if target.type != "http":
            modules[_module(target)] = _other_module(target)
            continue
        http: dict[str, Any] = {"method": target.method, "valid_status_codes": list(target.expect_status),
                                "preferred_ip_protocol": "ip4", "follow_redirects": False}
        if target.headers:
            http["headers"] = dict(target.headers)
        patterns = []
        if target.body_contains is not None:
            patterns.append(re.escape(target.body_contains))
        if target.body_regex is not None:
            patterns.append(target.body_regex)
        json_pattern = _json_pattern(target)
        if json_pattern is not None:
            patterns.append(json_pattern)
        if patterns:
            http["fail_if_body_not_matches_regexp"] = patterns
        if target.ca_file:
            http["tls_config"] = {"ca_file": target.ca_file}
        # A response slower than the latency budget fails the monitor's check; the probe's timeout does the same.
        timeout = min(target.timeout, target.latency_budget or target.timeout)
        modules[_module(target)] = {"prober": "http", "timeout": _seconds(timeout), "http": http}
    return {"modules": modules}


def _other_module(target: Target) -> dict[str, Any]:
    """The tcp and dns prober modules (TLS is the tcp prober with ``tls: true``)."""
    timeout = _seconds(target.timeout)
    if target.type == "dns" and target.dns is not None:
        dns: dict[str, Any] = {"query_name": target.dns.name, "query_type": target.dns.record,
                               "valid_rcodes": ["NOERROR"], "preferred_ip_protocol": "ip4",
                               "transport_protocol": "udp"}
        if target.dns.expect:
            dns["validate_answer_rrs"] = {"fail_if_none_matches_regexp": [
                rf"\s{re.escape(value.rstrip('.'))}\.?$" for value in target.dns.expect]}
        else:
            dns["validate_answer_rrs"] = {"fail_if_none_matches_regexp": [".*"]}  # at least one record
        return {"prober": "dns", "timeout": timeout, "dns": dns}
    tcp: dict[str, Any] = {"preferred_ip_protocol": "ip4"}
    if target.type == "tls":
        tcp["tls"] = True
        tcp["tls_config"] = {"server_name": urlsplit(target.url).hostname,
                             **({"ca_file": target.ca_file} if target.ca_file else {})}
    return {"prober": "tcp", "timeout": timeout, "tcp": tcp}


def prometheus(config: Config, blackbox_address: str, rules_file: str = "rules.yml",
               alertmanager: str = "127.0.0.1:9093") -> dict[str, Any]:
    """Scrape config: a job per location, each target relabelled through blackbox_exporter."""
    jobs = []
    targets = exportable(config)
    interval = min((t.interval for t in targets), default=30.0)
    for location in config.monitor.locations:
        static = [{"targets": [_address(t)], "labels": {"module": _module(t), "target": t.name, "cell": t.cell,
                                                         "location": location}} for t in targets]
        jobs.append({
            "job_name": f"{JOB_PREFIX}{location}", "metrics_path": "/probe", "scrape_interval": _seconds(interval),
            "scrape_timeout": _seconds(min(max((t.timeout for t in targets), default=10.0), interval)),
            "static_configs": static,
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["module"], "target_label": "__param_module"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": blackbox_address},
            ],
        })
    return {
        "global": {"scrape_interval": _seconds(interval), "evaluation_interval": _seconds(min(interval, 15))},
        "rule_files": [rules_file],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": jobs,
    }


def _names(targets: list[Target]) -> str:
    # Target names are [a-z0-9_.-]; only the dot is special in a regex ("\\." inside a PromQL string).
    return "|".join(t.name.replace(".", "\\\\.") for t in targets)


def rules(config: Config) -> dict[str, Any]:
    """Alert rules equivalent to the monitor's state machine and certificate thresholds."""
    th = config.thresholds
    out = []
    by_interval: dict[float, list[Target]] = {}
    for target in exportable(config):
        by_interval.setdefault(target.interval, []).append(target)
    for interval, targets in sorted(by_interval.items()):
        out.append({
            "alert": "UptimeTargetDown",
            "expr": f'count by (cell, target) (probe_success{{job=~"{JOB_PREFIX}.*", target=~"{_names(targets)}"}}'
                    f" == 0) >= {th.quorum}",
            # down_after consecutive failed scrapes span (down_after - 1) intervals after the first one.
            "for": _seconds((th.down_after - 1) * interval) if th.down_after > 1 else "0s",
            # The interval label keeps one rule per interval distinct for promtool's duplicate-rule lint.
            "labels": {"severity": "page", "check_interval": _seconds(interval)},
            "annotations": {"summary": f"{{{{ $labels.target }}}} in cell {{{{ $labels.cell }}}} fails from "
                                       f"{{{{ $value }}}} location(s) (quorum {th.quorum})"},
        })
    for field, severity in (("cert_warn_days", "warning"), ("cert_critical_days", "page")):
        groups: dict[int, list[Target]] = {}
        for target in exportable(config):
            if target.url.startswith("https") or target.type == "tls":
                groups.setdefault(getattr(target, field), []).append(target)
        for days, targets in sorted(groups.items()):
            out.append({
                "alert": "UptimeCertificateExpiring" if severity == "warning" else "UptimeCertificateCritical",
                "expr": f'min by (cell, target) (probe_ssl_earliest_cert_expiry{{target=~"{_names(targets)}"}})'
                        f" - time() < {days * 86400}",
                "for": "10m",
                "labels": {"severity": severity, "threshold_days": str(days)},
                "annotations": {"summary": f"certificate of {{{{ $labels.target }}}} expires within {days} days"},
            })
    return {"groups": [{"name": "uptime", "rules": out}]}


def rules_test(config: Config) -> dict[str, Any]:
    """promtool unit tests: one location failing pages nobody, a quorum failing pages once per target."""
    th = config.thresholds
    target = (exportable(config) or list(config.targets))[0]
    step = int(target.interval)
    minutes = int((th.down_after + 2) * step)
    locations = list(config.monitor.locations)
    failing = locations[: th.quorum]
    healthy = locations[th.quorum:]
    series = []
    for location in locations:
        bad = location in failing
        values = f"0x{minutes // step}" if bad else f"1x{minutes // step}"
        series.append({"series": f'probe_success{{job="{JOB_PREFIX}{location}", target="{target.name}", '
                                 f'cell="{target.cell}", location="{location}"}}', "values": values})
    fire_at = (th.down_after - 1) * step
    tests: list[dict[str, Any]] = [{
        "interval": f"{step}s",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": f"{max(fire_at - step, 0)}s" if fire_at else "0s", "alertname": "UptimeTargetDown",
             "exp_alerts": [] if fire_at else [_expected(target, len(failing), th.quorum)]},
            {"eval_time": f"{fire_at + step}s", "alertname": "UptimeTargetDown",
             "exp_alerts": [_expected(target, len(failing), th.quorum)]},
        ],
    }]
    if len(locations) > th.quorum > 1 or healthy:
        # Fewer failing locations than the quorum: nobody is paged.
        few = locations[: th.quorum - 1]
        tests.append({
            "interval": f"{step}s",
            "input_series": [{"series": f'probe_success{{job="{JOB_PREFIX}{loc}", target="{target.name}", '
                                        f'cell="{target.cell}", location="{loc}"}}',
                              "values": f"{0 if loc in few else 1}x{minutes // step}"} for loc in locations],
            "alert_rule_test": [{"eval_time": f"{minutes}s", "alertname": "UptimeTargetDown", "exp_alerts": []}],
        })
    return {"rule_files": ["rules.yml"], "evaluation_interval": f"{min(step, 15)}s", "tests": tests}


def _expected(target: Target, value: int, quorum: int) -> dict[str, Any]:
    return {"exp_labels": {"severity": "page", "cell": target.cell, "target": target.name,
                           "check_interval": _seconds(target.interval)},
            "exp_annotations": {"summary": f"{target.name} in cell {target.cell} fails from {value} location(s) "
                                           f"(quorum {quorum})"}}


def _clock(value: time) -> str:
    return "24:00" if value.hour == 23 and value.minute == 59 else f"{value.hour:02d}:{value.minute:02d}"


TOKEN_FILE = "/etc/alertmanager/uptime_token"  # noqa: S105 - a path


def alertmanager(config: Config, monitor_url: str, token_file: str = TOKEN_FILE) -> dict[str, Any]:
    """Routes per cell that follow the escalation steps; the monitor's webhook tells each step's people.

    Alertmanager cannot resolve a rotation nor stop an escalation on an acknowledgement, so every step is
    a webhook receiver of the monitor (``/alertmanager`` for step 0, ``/alertmanager/step-N`` after it):
    Alertmanager times the step (the route's ``group_wait`` is the step's ``after``) and repeats it every
    ``reminder_every`` (``repeat_interval``); the monitor picks who is on call at that moment, sends on the
    step's channels, and skips later steps once someone acknowledged. Maintenance windows become
    ``mute_time_intervals``. Each webhook authenticates with a bearer token read from ``token_file``: put
    the value of the monitor's ``monitor.alertmanager_token_env`` variable there.
    """
    intervals = []
    for window in config.maintenance:
        days = [WEEKDAYS[d] for d in window.days]
        if window.start < window.end:
            times = [{"start_time": _clock(window.start), "end_time": _clock(window.end)}]
            ranges = [{"weekdays": days, "times": times, "location": window.zone.key}]
        else:  # crosses midnight: the evening of each day and the morning after
            ranges = [
                {"weekdays": days, "times": [{"start_time": _clock(window.start), "end_time": "24:00"}],
                 "location": window.zone.key},
                {"weekdays": [WEEKDAYS[(d + 1) % 7] for d in window.days],
                 "times": [{"start_time": "00:00", "end_time": _clock(window.end)}], "location": window.zone.key},
            ]
        intervals.append({"name": window.name, "time_intervals": ranges})
    base = monitor_url.rstrip("/") + "/alertmanager"
    auth = {"authorization": {"type": "Bearer", "credentials_file": token_file}}
    steps = config.escalation.steps
    receivers: list[dict[str, Any]] = [
        {"name": f"uptime-step-{index}", "webhook_configs": [
            {"url": base if index == 0 else f"{base}/step-{index}", "send_resolved": True, "max_alerts": 0,
             "http_config": auth}]}
        for index in range(len(steps))]
    if not receivers:  # nobody to page: Alertmanager still needs a receiver to route to
        receivers = [{"name": "uptime-step-0"}]
    wait = config.thresholds.group_wait or 10.0
    routes = []
    for cell in config.cells():
        muted = [w.name for w in config.maintenance if cell in w.cells]
        children: list[dict[str, Any]] = [
            {"matchers": ['severity="page"'], "receiver": f"uptime-step-{index}",
             "group_wait": _seconds(wait + step.after), "continue": True}
            for index, step in enumerate(steps)]
        # Warnings (certificates) go to the first step's email only; the monitor drops its SMS channels.
        children.append({"matchers": ['severity="warning"'], "receiver": "uptime-step-0"})
        for route in children:
            if muted:
                route["mute_time_intervals"] = muted
        routes.append({"matchers": [f'cell="{cell}"'], "receiver": "uptime-step-0", "group_by": ["cell"],
                       "routes": children})
    return {
        "route": {"receiver": "uptime-step-0", "group_by": ["cell"], "group_wait": _seconds(wait),
                  "group_interval": "5m",
                  "repeat_interval": _seconds(config.escalation.reminder_every or 4 * 3600), "routes": routes},
        "inhibit_rules": [{"source_matchers": ['severity="page"'], "target_matchers": ['severity="warning"'],
                           "equal": ["cell"]}],
        "time_intervals": intervals,
        "receivers": receivers,
    }


def write(config: Config, out: str | Path, monitor_url: str | None = None,
          blackbox_address: str = "127.0.0.1:9115", alertmanager_address: str = "127.0.0.1:9093",
          token_file: str = TOKEN_FILE) -> list[Path]:
    """Write all files into ``out``; return their paths."""
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    documents = {
        "blackbox.yml": blackbox(config),
        "prometheus.yml": prometheus(config, blackbox_address, alertmanager=alertmanager_address),
        "rules.yml": rules(config),
        "rules_test.yml": rules_test(config),
        "alertmanager.yml": alertmanager(config, monitor_url or config.monitor.public_url, token_file),
    }
    paths = []
    for name, document in documents.items():
        path = directory / name
        path.write_text(f"# generated by `uptime export prometheus` from {config.source}; do not edit\n"
                        + yaml.safe_dump(document, sort_keys=False, width=120), encoding="utf-8")
        paths.append(path)
    return paths
