"""Prometheus metrics: blackbox_exporter-compatible probe gauges plus the monitor's own counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from uptime.result import KINDS, Result

LABELS = ("target", "cell", "location")


class Metrics:
    """All metrics of one monitor, registered in the ``registry`` it is given (tests use a fresh one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.success = Gauge("probe_success", "Whether the probe succeeded", LABELS, registry=registry)
        self.duration = Gauge("probe_duration_seconds", "How long the probe took", LABELS, registry=registry)
        self.status = Gauge("probe_http_status_code", "HTTP status code of the response (0 if none)", LABELS,
                            registry=registry)
        self.cert = Gauge("probe_ssl_earliest_cert_expiry",
                          "Expiry of the leaf certificate presented by the target, UNIX seconds", LABELS,
                          registry=registry)
        self.incidents = Gauge("uptime_incidents_open", "Open incidents", ["cell"], registry=registry)
        self.notifications = Counter("uptime_notifications", "Notification sends by channel and result",
                                     ["channel", "result"], registry=registry)
        self.errors = Counter("uptime_probe_errors", "Failed probes by failure kind", ["kind"], registry=registry)
        self.probes = Counter("uptime_probes", "Probes run", ["location"], registry=registry)
        for kind in KINDS:  # export zeros so rate() works before the first failure
            self.errors.labels(kind)

    def observe(self, result: Result) -> None:
        """Update the probe gauges from one result."""
        labels = (result.target, result.cell, result.location)
        self.success.labels(*labels).set(1 if result.ok else 0)
        self.duration.labels(*labels).set(result.duration)
        self.status.labels(*labels).set(result.status or 0)
        if result.cert_expiry is not None:
            self.cert.labels(*labels).set(result.cert_expiry)
        self.probes.labels(result.location).inc()
        if not result.ok and result.kind:
            self.errors.labels(result.kind).inc()
