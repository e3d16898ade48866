"""The environment model: load and validate `environments/Pulumi.<env>.yaml`.

Read by the Pulumi program (from the stack's config) and by the local runner and the CLI (from the
file). Validation happens once, here, and reports every problem of a file at once; nothing is planned
or started from an environment that has problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.errors import SlotstackError
from infra.provider import checks
from infra.residency import RESIDENCIES, describe_region
from infra.schema import (
    Problems,
    Secret,
    as_mapping,
    check_keys,
    join,
    read_bool,
    read_int,
    read_number,
    read_secret_or_str,
    read_str,
    show,
)

NAMESPACE = "slotstack"
ENVIRONMENTS_DIR = Path(__file__).resolve().parent.parent / "environments"

HOSTNAME = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
E164 = r"\+[1-9][0-9]{6,14}"
# Flexible Server storage sizes Azure accepts, in GiB.
STORAGE_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
# Pulumi reads these file-level keys; anything else is a typo.
FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
CONFIG_KEYS = ("cells", "oncall", "alerts", "monitor")
# Provider namespaces are passed through to Pulumi untouched.
PROVIDER_NAMESPACES = ("azure-native", "aws", "random", "pulumi")


class InvalidEnvironment(SlotstackError):
    """An environment file that cannot be used; `problems` lists every reason, one per line. Exit code 2
    (bad configuration), except from `slotstack validate`, whose job is to find such problems (1)."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Fleet:
    """The VM Scale Set of the active region and the standby fleet of the other."""

    vm_size: str
    min: int
    max: int
    standby: int
    accelerated_networking: bool | None = None
    """As asked in the file; None: on wherever the size supports it (infra.provider.checks)."""


@dataclass(frozen=True)
class Database:
    """PostgreSQL Flexible Server of a cell."""

    sku: str
    tier: str
    version: str
    ha: str
    replica: bool
    backup_retention_days: int
    storage_gb: int
    geo_redundant_backup: bool


@dataclass(frozen=True)
class Images:
    """Tenant images on S3 (+ CloudFront unless strict residency)."""

    strict_residency: bool
    domain: str | None
    dns_zone: str | None = None
    """The Route 53 public hosted zone that holds `domain`: pulumi up writes its ACM validation and alias records."""


@dataclass(frozen=True)
class Logs:
    """Log Analytics workspace retention and daily ingestion cap."""

    retention_days: int
    daily_cap_gb: float


@dataclass(frozen=True)
class LocalCell:
    """How `slotstack up` realizes the cell on one machine."""

    port: int
    replication: str


@dataclass(frozen=True)
class Cell:
    """A complete, independent copy of the service for one residency."""

    name: str
    residency: str
    primary_region: str
    secondary_region: str
    aws_region: str
    hostname: str
    active_region: str
    fleet: Fleet
    database: Database
    images: Images
    logs: Logs
    local: LocalCell

    @property
    def serving_region(self) -> str:
        """The Azure region that takes traffic now (flips with `active_region`)."""
        return self.primary_region if self.active_region == "primary" else self.secondary_region


@dataclass(frozen=True)
class Receiver:
    """One on-call person: paged by email always, by SMS when a phone is set."""

    name: str
    email: str
    phone: str | Secret | None


@dataclass(frozen=True)
class EscalationStep:
    """After `after_minutes` without acknowledgement, page these receivers."""

    after_minutes: int
    notify: tuple[str, ...]


@dataclass(frozen=True)
class OnCall:
    receivers: tuple[Receiver, ...]
    escalation: tuple[EscalationStep, ...]
    repeat_minutes: int


@dataclass(frozen=True)
class Alerts:
    """Thresholds of the Azure Monitor alerts (and the monitor's paging)."""

    cpu_percent: int
    storage_percent: int
    replica_lag_seconds: int
    gateway_5xx_percent: float
    waf_blocked_per_5m: int
    failed_connections_per_5m: int
    availability_locations: int
    unhealthy_minutes: int


@dataclass(frozen=True)
class Monitor:
    """Where the uptime monitor runs: on AWS, outside the cells' cloud, so an Azure outage still pages."""

    core_region: str
    agent_regions: tuple[str, ...]
    instance_type: str
    quorum: int
    status_domain: str | None
    status_dns_zone: str | None = None
    """The Route 53 public hosted zone that holds `status_domain` (ACM validation and alias records)."""


@dataclass(frozen=True)
class Environment:
    """One validated environment (a Pulumi stack)."""

    name: str
    source: str
    cells: dict[str, Cell]
    oncall: OnCall
    alerts: Alerts
    monitor: Monitor
    warnings: tuple[str, ...] = ()
    """What must be requested before `pulumi up` works (access-restricted regions), one line each."""

    @property
    def is_prod(self) -> bool:
        return self.name == "prod"


ALERT_LIMITS: dict[str, tuple[float, float, float]] = {
    # key: (default, low, high)
    "cpu_percent": (80, 1, 100),
    "storage_percent": (80, 1, 100),
    "replica_lag_seconds": (60, 1, 3600),
    "gateway_5xx_percent": (5, 0.1, 100),
    "waf_blocked_per_5m": (200, 1, 1_000_000),
    "failed_connections_per_5m": (20, 1, 1_000_000),
    "availability_locations": (5, 5, 16),
    "unhealthy_minutes": (5, 1, 60),
}


def _fleet(problems: Problems, path: str, raw: Any) -> Fleet:
    data = as_mapping(problems, path, raw if raw is not None else {}) or {}
    check_keys(problems, path, data, ("vm_size", "min", "max", "standby", "accelerated_networking"))
    fleet = Fleet(
        vm_size=read_str(problems, path, data, "vm_size", default="Standard_D2s_v5",
                         pattern=r"Standard_[A-Za-z0-9_]+", what="an Azure VM size like Standard_D2s_v5"),
        min=read_int(problems, path, data, "min", default=2, low=1, high=100),
        max=read_int(problems, path, data, "max", default=10, low=1, high=100),
        standby=read_int(problems, path, data, "standby", default=0, low=0, high=100),
        accelerated_networking=(read_bool(problems, path, data, "accelerated_networking", default=False)
                                if "accelerated_networking" in data else None),
    )
    if fleet.vm_size:
        checks.check_fleet(problems, path, fleet)
    if fleet.min > fleet.max:
        problems.add(join(path, "min"), f"{fleet.min} is greater than fleet.max {fleet.max}; min must be <= max")
    if fleet.standby > fleet.max:
        problems.add(join(path, "standby"), f"{fleet.standby} is greater than fleet.max {fleet.max}")
    return fleet


def _database(problems: Problems, path: str, raw: Any) -> Database:
    data = as_mapping(problems, path, raw if raw is not None else {}) or {}
    keys = ("sku", "tier", "version", "ha", "replica", "backup_retention_days", "storage_gb", "geo_redundant_backup")
    check_keys(problems, path, data, keys)
    version = data.get("version", "16")
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)  # `version: 16` is what people write
    db = Database(
        sku=read_str(problems, path, data, "sku", default="Standard_D2ds_v5",
                     pattern=r"Standard_[A-Za-z0-9_]+", what="a Flexible Server SKU like Standard_D2ds_v5"),
        tier=read_str(problems, path, data, "tier", default="GeneralPurpose",
                      choices=("Burstable", "GeneralPurpose", "MemoryOptimized")),
        version=read_str(problems, path, {"version": version}, "version", choices=("16", "17")),
        ha=read_str(problems, path, data, "ha", default="Disabled", choices=("Disabled", "ZoneRedundant", "SameZone")),
        replica=read_bool(problems, path, data, "replica", default=False),
        backup_retention_days=read_int(problems, path, data, "backup_retention_days", default=35, low=7, high=35),
        storage_gb=read_int(problems, path, data, "storage_gb", default=128, low=32, high=32768,
                            choices=STORAGE_SIZES),
        geo_redundant_backup=read_bool(problems, path, data, "geo_redundant_backup", default=True),
    )
    if db.tier == "Burstable" and db.ha != "Disabled":
        problems.add(join(path, "ha"), f"{show(db.ha)} is not available on the Burstable tier; "
                                       "use tier GeneralPurpose or ha Disabled")
    return db


def _quoted(region: str) -> str:
    """'uksouth' (United Kingdom): the value as written, then where it is."""
    described = describe_region(region)
    return repr(region) + described[len(region):]


def _regions(problems: Problems, path: str, data: Mapping[str, Any], residency: str) -> tuple[str, str, str]:
    primary = read_str(problems, path, data, "primary_region")
    secondary = read_str(problems, path, data, "secondary_region")
    aws = read_str(problems, path, data, "aws_region")
    geo = RESIDENCIES.get(residency)
    if geo is None:
        return primary, secondary, aws
    allowed_azure = ", ".join(geo.azure_regions)
    if primary and primary not in geo.azure_regions:
        problems.add(join(path, "primary_region"),
                     f"{_quoted(primary)} is outside residency {residency!r} (allowed: {allowed_azure})")
    if secondary:
        pair = geo.pair_of(primary) if primary else None
        pair_hint = f"pair of {primary} is {pair}" if pair else f"allowed: {allowed_azure}"
        if secondary not in geo.azure_regions:
            problems.add(join(path, "secondary_region"),
                         f"{secondary!r} is outside residency {residency!r} ({pair_hint})")
        elif pair is not None and secondary != pair:
            problems.add(join(path, "secondary_region"),
                         f"{secondary!r} is not the Azure pair of {primary} ({pair_hint}); geo-backups and "
                         "GZRS copies always go to the pair")
    if aws and aws not in geo.aws_regions:
        problems.add(join(path, "aws_region"),
                     f"{_quoted(aws)} is outside residency {residency!r} "
                     f"(allowed: {', '.join(geo.aws_regions)})")
    return primary, secondary, aws


CELL_KEYS = ("residency", "primary_region", "secondary_region", "aws_region", "hostname", "active_region",
             "fleet", "database", "images", "logs", "local")
CELL_REQUIRED = ("residency", "primary_region", "secondary_region", "aws_region", "hostname")


def _cell(problems: Problems, name: str, raw: Any, index: int) -> Cell | None:
    path = join("cells", name)
    data = as_mapping(problems, path, raw)
    if data is None:
        return None
    check_keys(problems, path, data, CELL_KEYS, CELL_REQUIRED)
    residency = read_str(problems, path, data, "residency", choices=RESIDENCIES)
    primary, secondary, aws = _regions(problems, path, data, residency)
    database = _database(problems, join(path, "database"), data.get("database"))
    active = read_str(problems, path, data, "active_region", default="primary", choices=("primary", "secondary"))
    if active == "secondary" and not database.replica:
        problems.add(join(path, "active_region"),
                     "'secondary' needs database.replica: true (there is no replica to promote)")
    images_raw = as_mapping(problems, join(path, "images"), data.get("images") or {}) or {}
    check_keys(problems, join(path, "images"), images_raw, ("strict_residency", "domain", "dns_zone"))
    domain = read_str(problems, join(path, "images"), images_raw, "domain", pattern=HOSTNAME,
                      what="a lowercase DNS name like images.eu.book.example.com")
    images_zone = read_str(problems, join(path, "images"), images_raw, "dns_zone", pattern=HOSTNAME,
                           what="a Route 53 hosted zone name like book.example.com")
    _check_zone(problems, join(path, "images"), "domain", domain, "dns_zone", images_zone)
    logs_raw = as_mapping(problems, join(path, "logs"), data.get("logs") or {}) or {}
    check_keys(problems, join(path, "logs"), logs_raw, ("retention_days", "daily_cap_gb"))
    local_raw = as_mapping(problems, join(path, "local"), data.get("local") or {}) or {}
    check_keys(problems, join(path, "local"), local_raw, ("port", "replication"))
    cell = Cell(
        name=name,
        residency=residency,
        primary_region=primary,
        secondary_region=secondary,
        aws_region=aws,
        hostname=read_str(problems, path, data, "hostname", pattern=HOSTNAME,
                          what="a lowercase DNS name like eu.book.example.com"),
        active_region=active,
        fleet=_fleet(problems, join(path, "fleet"), data.get("fleet")),
        database=database,
        images=Images(
            strict_residency=read_bool(problems, join(path, "images"), images_raw, "strict_residency", default=False),
            domain=domain or None,
            dns_zone=images_zone or None,
        ),
        logs=Logs(
            retention_days=read_int(problems, join(path, "logs"), logs_raw, "retention_days",
                                    default=90, low=30, high=730),
            daily_cap_gb=read_number(problems, join(path, "logs"), logs_raw, "daily_cap_gb",
                                     default=5, low=0.1, high=10_000),
        ),
        local=LocalCell(
            port=read_int(problems, join(path, "local"), local_raw, "port", default=8100 + index, low=1024, high=65535),
            replication=read_str(problems, join(path, "local"), local_raw, "replication", default="synchronous",
                                 choices=("synchronous", "asynchronous")),
        ),
    )
    checks.check_regions(problems, path, cell)
    return cell


def _check_zone(problems: Problems, path: str, domain_key: str, domain: str, zone_key: str, zone: str) -> None:
    """A custom CloudFront domain needs its Route 53 zone: ACM validates it by a DNS record there, and a
    distribution with an alias needs that validated certificate (pulumi up would wait ~75 minutes and fail)."""
    if domain and not zone:
        problems.add(join(path, zone_key),
                     f"is required with {domain_key} {domain!r}: name the Route 53 hosted zone that holds it (e.g. "
                     f"{domain.split('.', 1)[1]!r}) so that pulumi up writes the ACM validation and alias records, "
                     f"or remove {domain_key} (CloudFront's own *.cloudfront.net name is used)")
    elif zone and not domain:
        problems.add(join(path, zone_key), f"{zone!r} is set without {domain_key}; set both or neither")
    elif domain and zone and not (domain == zone or domain.endswith("." + zone)):
        problems.add(join(path, zone_key), f"{zone!r} does not hold {domain_key} {domain!r}; name its parent zone")


def _cells(problems: Problems, raw: Any) -> dict[str, Cell]:
    if raw is None:
        problems.add("cells", "is required but missing: list at least one cell (us, eu or au)")
        return {}
    data = as_mapping(problems, "cells", raw)
    if data is None:
        return {}
    if not data:
        problems.add("cells", "is empty: list at least one cell (us, eu or au)")
    cells: dict[str, Cell] = {}
    for index, (name, cell_raw) in enumerate(data.items()):
        if not isinstance(name, str) or not name.isidentifier() or not name.islower():
            problems.add(join("cells", str(name)), "cell names are short lowercase words like us, eu, au")
            continue
        cell = _cell(problems, name, cell_raw, index)
        if cell is not None:
            cells[name] = cell
    _unique(problems, cells, "hostname", lambda c: c.hostname)
    _unique(problems, cells, "local.port", lambda c: str(c.local.port))
    return cells


def _unique(problems: Problems, cells: dict[str, Cell], key: str, value_of: Any) -> None:
    seen: dict[str, str] = {}
    for cell in cells.values():
        value = value_of(cell)
        if not value:
            continue
        if value in seen:
            problems.add(join(join("cells", cell.name), key),
                         f"{value!r} is already used by cells.{seen[value]}; every cell needs its own")
        else:
            seen[value] = cell.name


def _oncall(problems: Problems, raw: Any) -> OnCall:
    path = "oncall"
    if raw is None:
        problems.add(path, "is required but missing: list the receivers who are paged")
        return OnCall((), (), 15)
    data = as_mapping(problems, path, raw) or {}
    check_keys(problems, path, data, ("receivers", "escalation", "repeat_minutes"), ("receivers",))
    receivers: list[Receiver] = []
    raw_receivers = data.get("receivers") or []
    if not isinstance(raw_receivers, list) or not raw_receivers:
        problems.add(join(path, "receivers"), "expected a non-empty list of {name, email, phone}")
        raw_receivers = []
    for i, item in enumerate(raw_receivers):
        rpath = join(join(path, "receivers"), i)
        rdata = as_mapping(problems, rpath, item)
        if rdata is None:
            continue
        check_keys(problems, rpath, rdata, ("name", "email", "phone"), ("name", "email"))
        email = read_secret_or_str(problems, rpath, rdata, "email", pattern=EMAIL, what="an email address")
        receivers.append(Receiver(
            name=read_str(problems, rpath, rdata, "name"),
            email=str(email) if isinstance(email, str) else "",
            phone=read_secret_or_str(problems, rpath, rdata, "phone", pattern=E164,
                                     what="a phone number in E.164 form like +15550100"),
        ))
    names = [r.name for r in receivers]
    steps: list[EscalationStep] = []
    raw_steps = data.get("escalation")
    if raw_steps is None:
        raw_steps = [{"after_minutes": 0, "notify": names}]
    if not isinstance(raw_steps, list):
        problems.add(join(path, "escalation"), "expected a list of {after_minutes, notify}")
        raw_steps = []
    previous = -1
    for i, item in enumerate(raw_steps):
        spath = join(join(path, "escalation"), i)
        sdata = as_mapping(problems, spath, item)
        if sdata is None:
            continue
        check_keys(problems, spath, sdata, ("after_minutes", "notify"), ("after_minutes", "notify"))
        after = read_int(problems, spath, sdata, "after_minutes", default=0, low=0, high=1440)
        if after <= previous:
            problems.add(join(spath, "after_minutes"), f"{after} must be later than the previous step ({previous})")
        previous = after
        notify = sdata.get("notify") or []
        if not isinstance(notify, list):
            problems.add(join(spath, "notify"), f"expected a list of receiver names, got {show(notify)}")
            notify = []
        for who in notify:
            if who not in names:
                problems.add(join(spath, "notify"), f"{who!r} is not a receiver (receivers: {', '.join(names)})")
        steps.append(EscalationStep(after, tuple(str(w) for w in notify)))
    repeat = read_int(problems, path, data, "repeat_minutes", default=15, low=1, high=1440)
    return OnCall(tuple(receivers), tuple(steps), repeat)


def _alerts(problems: Problems, raw: Any) -> Alerts:
    data = as_mapping(problems, "alerts", raw if raw is not None else {}) or {}
    check_keys(problems, "alerts", data, ALERT_LIMITS)
    values: dict[str, Any] = {}
    for key, (default, low, high) in ALERT_LIMITS.items():
        if key == "gateway_5xx_percent":
            values[key] = read_number(problems, "alerts", data, key, default=default, low=low, high=high)
        else:
            values[key] = read_int(problems, "alerts", data, key, default=int(default), low=int(low), high=int(high))
    return Alerts(**values)


AWS_CONTINENTS = {"us": "North America", "ca": "North America", "eu": "Europe", "ap": "Asia Pacific",
                  "sa": "South America", "me": "Middle East", "af": "Africa"}


def _monitor(problems: Problems, raw: Any) -> Monitor:
    path = "monitor"
    data = as_mapping(problems, path, raw if raw is not None else {}) or {}
    check_keys(problems, path, data, ("core_region", "agent_regions", "instance_type", "quorum", "status_domain",
                                      "status_dns_zone"))
    aws_region = r"[a-z]{2}(-gov)?-[a-z]+-[0-9]"
    core = read_str(problems, path, data, "core_region", default="us-east-2", pattern=aws_region,
                    what="an AWS region like us-east-2")
    agents_raw = data.get("agent_regions", ["eu-west-1", "ap-southeast-2"])
    agents: list[str] = []
    if not isinstance(agents_raw, list) or not all(isinstance(a, str) for a in agents_raw):
        problems.add(join(path, "agent_regions"), f"expected a list of AWS regions, got {show(agents_raw)}")
    else:
        agents = list(agents_raw)
        for i, region in enumerate(agents):
            if not re.fullmatch(aws_region, region):
                problems.add(join(join(path, "agent_regions"), i), f"{region!r} is not an AWS region like eu-west-1")
    sites = [core, *agents]
    if len(set(sites)) != len(sites):
        problems.add(join(path, "agent_regions"), f"{show(agents)} repeats a region; every site needs its own")
    continents = {AWS_CONTINENTS.get(site.split("-")[0], site) for site in sites}
    if len(agents) < 2 or len(continents) < 2:
        problems.add(join(path, "agent_regions"),
                     f"{show(agents)}: need at least two agent regions and sites on at least two continents, "
                     "so one region's trouble cannot page or silence everyone")
    quorum = read_int(problems, path, data, "quorum", default=2, low=1, high=max(1, len(sites)))
    domain = read_str(problems, path, data, "status_domain", pattern=HOSTNAME,
                      what="a lowercase DNS name like status.book.example.com")
    status_zone = read_str(problems, path, data, "status_dns_zone", pattern=HOSTNAME,
                           what="a Route 53 hosted zone name like book.example.com")
    _check_zone(problems, path, "status_domain", domain, "status_dns_zone", status_zone)
    return Monitor(
        core_region=core,
        agent_regions=tuple(agents),
        instance_type=read_str(problems, path, data, "instance_type", default="t4g.small",
                               pattern=r"[a-z][a-z0-9]*\.[a-z0-9]+", what="an EC2 instance type like t4g.small"),
        quorum=quorum,
        status_domain=domain or None,
        status_dns_zone=status_zone or None,
    )


def from_config(name: str, config: Mapping[str, Any], source: str) -> Environment:
    """Validate the `slotstack:*` config of stack `name`; raise InvalidEnvironment with every problem."""
    problems = Problems(source)
    slot: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, short = str(key).partition(":")
        if namespace == NAMESPACE and short:
            slot[short] = value
        elif namespace in PROVIDER_NAMESPACES and short:
            continue
        else:
            known = ", ".join(f"{NAMESPACE}:{k}" for k in CONFIG_KEYS)
            problems.add(str(key), f"unknown config key; slotstack keys are {known}")
    check_keys(problems, "", slot, CONFIG_KEYS)
    cells = _cells(problems, slot.get("cells"))
    oncall = _oncall(problems, slot.get("oncall"))
    alerts = _alerts(problems, slot.get("alerts"))
    monitor = _monitor(problems, slot.get("monitor"))
    if problems:
        raise InvalidEnvironment(problems.lines())
    warned = tuple(f"{source}: {line}" for cell in cells.values()
                   for line in checks.warnings(join("cells", cell.name), cell))
    return Environment(name=name, source=source, cells=cells, oncall=oncall, alerts=alerts, monitor=monitor,
                       warnings=warned)


def path_of(name: str, directory: Path | None = None) -> Path:
    """The file of environment `name`."""
    return (directory or ENVIRONMENTS_DIR) / f"Pulumi.{name}.yaml"


def available(directory: Path | None = None) -> list[str]:
    """Names of the committed environments, sorted."""
    folder = directory or ENVIRONMENTS_DIR
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_file(path: Path, name: str | None = None) -> Environment:
    """Load and validate one environment file; raise InvalidEnvironment listing every problem."""
    source = _display(path)
    if name is None:
        base = path.name
        name = base[len("Pulumi."):-len(".yaml")] if base.startswith("Pulumi.") and base.endswith(".yaml") else base
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(available(path.parent)) or "none"
        raise InvalidEnvironment([f"{source}: no such environment file (environments here: {known})"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise InvalidEnvironment([f"{source}{where}: YAML syntax error: {exc.problem}"]) from None
    if document is None:
        raise InvalidEnvironment([f"{source}: the file is empty; it needs a 'config:' mapping with slotstack:cells"])
    problems = Problems(source)
    if not isinstance(document, Mapping):
        raise InvalidEnvironment([f"{source}: expected a mapping with a 'config:' key, got {type(document).__name__}"])
    check_keys(problems, "", document, FILE_KEYS, ("config",))
    if problems:
        raise InvalidEnvironment(problems.lines())
    config = document["config"]
    if not isinstance(config, Mapping):
        raise InvalidEnvironment([f"{source}: config: expected a mapping of 'slotstack:...' keys"])
    return from_config(name, config, source)


def load(name: str, directory: Path | None = None) -> Environment:
    """Load committed environment `name` from environments/."""
    return load_file(path_of(name, directory), name)
