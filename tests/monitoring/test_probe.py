"""The prober against real HTTP(S) servers on localhost: each failure kind, latency, leaf certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from uptime.config import JsonCheck, Target
from uptime.probe import probe

from tests.monitoring.conftest import Pki, TargetServer, closed_port


def target(url: str, **kw: Any) -> Target:
    kw.setdefault("timeout", 2.0)
    return Target(name="t", cell="eu", url=url, **kw)


def test_healthy_target_passes_every_check(http_target: Callable[[], TargetServer]) -> None:
    server = http_target()
    result = probe(target(server.url(), body_contains="ok", body_regex=r'"status":\s*"ready"',
                          json=JsonCheck("status", "ready"), latency_budget=1.0))
    assert (result.ok, result.kind, result.status, result.error) == (True, None, 200, "")
    assert 0 < result.duration < 1.0
    assert result.cert_expiry is None  # plain HTTP has no certificate


@pytest.mark.parametrize(
    ("setup", "checks", "kind", "error"),
    [
        ({"status": 503}, {}, "status", "HTTP 503, expected 200"),
        ({"body": b"maintenance"}, {"body_contains": "ok"}, "body", "body does not contain 'ok'"),
        ({"body": b"x"}, {"body_regex": "^ok$"}, "body", "body does not match /^ok$/"),
        ({"body": b'{"status": "degraded"}'}, {"json": JsonCheck("status", "ready")}, "body",
         "JSON status is 'degraded', expected 'ready'"),
        ({"delay": 0.3}, {"latency_budget": 0.1}, "latency", "budget 0.1s"),
        ({"delay": 1.5}, {"timeout": 0.5}, "timeout", "no answer within 0.5s"),
        ({"hang_up": True}, {}, "connect", ""),
    ],
)
def test_failures_are_classified(http_target: Callable[[], TargetServer], setup: dict[str, object],
                                 checks: dict[str, object], kind: str, error: str) -> None:
    server = http_target()
    for key, value in setup.items():
        setattr(server.behaviour, key, value)
    result = probe(target(server.url(), **checks))
    assert (result.ok, result.kind) == (False, kind)
    assert error in result.error


def test_refused_connection_and_unresolvable_name() -> None:
    refused = probe(target(f"http://127.0.0.1:{closed_port()}/healthz"))
    assert (refused.ok, refused.kind) == (False, "connect")
    assert "Connection refused" in refused.error
    dns = probe(target("http://no-such-host.invalid/healthz"))
    assert (dns.ok, dns.kind, dns.error) == (False, "dns", "cannot resolve no-such-host.invalid")


def test_a_down_target_comes_back(http_target: Callable[[], TargetServer]) -> None:
    server = http_target()
    server.behaviour.status = 500
    assert probe(target(server.url())).kind == "status"
    server.behaviour.status = 200
    assert probe(target(server.url())).ok


def _days(n: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=n)


def test_leaf_expiry_is_reported_not_the_ca(http_target: Callable[..., TargetServer], pki: Pki) -> None:
    leaf_expiry = _days(60).replace(microsecond=0)
    server = http_target(pki.leaf("fresh", _days(-1), leaf_expiry))
    result = probe(target(server.url(), ca_file=str(pki.ca_file)))
    assert result.ok, result.error
    # The CA lives ten years; the metric must be the leaf's own notAfter.
    assert result.cert_expiry == leaf_expiry.timestamp()
    assert result.cert_warning == ""


def test_nearly_expired_leaf_warns_then_fails(http_target: Callable[..., TargetServer], pki: Pki) -> None:
    warn = http_target(pki.leaf("warn", _days(-80), _days(10)))
    result = probe(target(warn.url(), ca_file=str(pki.ca_file)))
    assert result.ok  # a warning is shown, never paged
    assert result.cert_warning in {"certificate expires in 9.9 days (warning below 21)",
                                   "certificate expires in 10.0 days (warning below 21)"}
    critical = http_target(pki.leaf("critical", _days(-80), _days(3)))
    result = probe(target(critical.url(), ca_file=str(pki.ca_file)))
    assert (result.ok, result.kind) == (False, "tls")
    assert "(critical below 7)" in result.error


def test_expired_leaf_is_a_tls_failure_with_its_expiry(http_target: Callable[..., TargetServer], pki: Pki) -> None:
    expired_at = _days(-2).replace(microsecond=0)
    server = http_target(pki.leaf("expired", _days(-92), expired_at))
    result = probe(target(server.url(), ca_file=str(pki.ca_file)))
    assert (result.ok, result.kind) == (False, "tls")
    assert "certificate has expired" in result.error
    assert result.cert_expiry == expired_at.timestamp()


def test_untrusted_certificate_is_a_tls_failure(http_target: Callable[..., TargetServer], pki: Pki) -> None:
    server = http_target(pki.leaf("untrusted", _days(-1), _days(60)))
    result = probe(target(server.url()))  # system trust store does not know the test CA
    assert (result.ok, result.kind) == (False, "tls")
    assert "certificate verify failed" in result.error



def test_server_that_goes_away_and_comes_back_on_its_port(http_target: Callable[..., TargetServer]) -> None:
    server = http_target()
    url = server.url()
    assert probe(target(url)).ok
    server.close()
    gone = probe(target(url))
    assert (gone.ok, gone.kind) == (False, "connect")
    assert "Connection refused" in gone.error
    http_target(port=server.port)  # the service restarts on the same port
    assert probe(target(url)).ok


def test_probes_identify_themselves_and_their_location(http_target: Callable[[], TargetServer]) -> None:
    server = http_target()
    probe(target(server.url()), location="sydney")
    probe(target(server.url(), headers={"User-Agent": "custom/1"}))
    assert server.behaviour.user_agents == ["slotstack-uptime/0.1.0 (location=sydney)", "custom/1"]
