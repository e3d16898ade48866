"""Every notifier: triggered and resolved, success and failure, with the exact request the provider gets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from uptime.configparse import ConfigError
from uptime.notice import Failure, Notice, gsm7_length, sms_text
from uptime.notify import NotifyError, build, validate_channel
from uptime.notify.base import Channel

from tests.monitoring.conftest import Pki, ProviderFake, SmtpSink, closed_port
from tests.monitoring.helpers import SID

FIRING = Notice(incident_id=7, cell="eu", event="page-0", resolved=False, down=3, total=3, since=1772546520.0,
                failures=(Failure("eu-healthz", "https://eu.example.com/healthz", "timeout", "no answer within 10s"),),
                ack_url="https://uptime.example.com/ack/7.abcdefghijklmnopqrstuv",
                status_url="https://uptime.example.com/status/")
RESOLVED = Notice(incident_id=7, cell="eu", event="recovery", resolved=True, down=3, total=3, since=1772546520.0,
                  resolved_at=1772546520.0 + 754, failures=FIRING.failures)
ACS_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def channel(kind: str, **options: Any) -> Channel:
    ch = Channel("ch", kind, {"type": kind, **options})
    validate_channel(ch)
    return ch


def test_sms_text_is_at_most_160_gsm7_characters() -> None:
    # The failing check is named (issue 15, finding 6); the runbook link rides along when it fits.
    assert sms_text(FIRING) == ("[slotstack] DOWN eu 3/3 checks since 14:02 UTC: eu-healthz: timeout. "
                                "Ack: https://uptime.example.com/ack/7.abcdefghijklmnopqrstuv")
    short = Notice(**{**FIRING.__dict__, "runbook_url": "https://rb.io/eu"})
    assert sms_text(short).endswith(" Runbook: https://rb.io/eu")
    assert sms_text(RESOLVED) == "[slotstack] RECOVERED eu after 12m 34s (down since 14:02 UTC)"
    many = Notice(**{**FIRING.__dict__, "cell": "eu" * 20, "failures": tuple(
        Failure(f"t{i}", "u", kind, "e") for i, kind in enumerate(["timeout", "dns", "connect", "tls", "status"]))})
    text = sms_text(many)
    assert gsm7_length(text) <= 160
    assert text.endswith(f"Ack: {FIRING.ack_url}")
    odd = Notice(**{**FIRING.__dict__, "cell": "zürich→{x}"})
    assert "→" not in sms_text(odd)  # a non-GSM character would force UCS-2 and 70-char segments


@pytest.mark.parametrize(("notice", "status"), [(FIRING, 201), (RESOLVED, 201), (FIRING, 401), (RESOLVED, 500)])
def test_twilio_request(provider: ProviderFake, notice: Notice, status: int) -> None:
    provider.status = status
    notifier = build(channel("twilio", account_sid=SID, auth_token_env="TOK", **{"from": "+15550100"},
                             api_base=provider.url), {"TOK": "s3cret"})
    if status == 201:
        notifier.send(notice, "+15550111")
    else:
        with pytest.raises(NotifyError, match=f"twilio: HTTP {status}"):
            notifier.send(notice, "+15550111")
    (request,) = provider.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:s3cret".encode()).decode()
    assert parse_qs(request.body.decode()) == {"To": ["+15550111"], "From": ["+15550100"], "Body": [sms_text(notice)]}


@pytest.mark.parametrize(("notice", "status", "ok"),
                         [(FIRING, 202, True), (RESOLVED, 202, True), (FIRING, 401, False), (FIRING, 202, False)])
def test_acs_sms_request_is_hmac_signed(provider: ProviderFake, notice: Notice, status: int, ok: bool) -> None:
    provider.status = status
    provider.reply = json.dumps({"value": [{"to": "+15550111", "messageId": "m1", "httpStatusCode": 202,
                                            "successful": ok, "errorMessage": None if ok else "Invalid number"}]}
                                ).encode()
    notifier = build(channel("acs_sms", endpoint=provider.url, access_key_env="ACS", **{"from": "+15550101"}),
                     {"ACS": ACS_KEY})
    if ok:
        notifier.send(notice, "+15550111")
    else:
        with pytest.raises(NotifyError, match=r"acs_sms: (HTTP 401|rejected: Invalid number)"):
            notifier.send(notice, "+15550111")
    (request,) = provider.requests
    assert request.path == "/sms?api-version=2021-03-07"
    assert request.json() == {"from": "+15550101", "smsRecipients": [{"to": "+15550111"}],
                              "message": sms_text(notice), "smsSendOptions": {"enableDeliveryReport": False}}
    # Recompute the signature independently, following the ACS HMAC documentation.
    content_hash = base64.b64encode(hashlib.sha256(request.body).digest()).decode()
    assert request.headers["x-ms-content-sha256"] == content_hash
    date = request.headers["x-ms-date"]
    assert parsedate_to_datetime(date).tzname() == "UTC"
    host = f"127.0.0.1:{provider.port}"
    assert request.headers["Host"] == host
    string_to_sign = f"POST\n/sms?api-version=2021-03-07\n{date};{host};{content_hash}"
    signature = base64.b64encode(hmac.new(base64.b64decode(ACS_KEY), string_to_sign.encode(),
                                          hashlib.sha256).digest()).decode()
    assert request.headers["Authorization"] == (
        f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}")


@pytest.fixture
def moto_sns() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_sns_publishes_sms_through_boto3(moto_sns: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    notifier = build(channel("sns", region="eu-west-1", endpoint_url=moto_sns, access_key_id_env="AK",
                             secret_access_key_env="SK"), {"AK": "AKIDEXAMPLE", "SK": "secret"})
    notifier.send(FIRING, "+15550111")
    notifier.send(RESOLVED, "+15550112")
    sent = list(sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sms_messages.values())
    assert sent[-2:] == [("+15550111", sms_text(FIRING)), ("+15550112", sms_text(RESOLVED))]


def test_sns_unreachable_is_a_failed_send() -> None:
    notifier = build(channel("sns", region="eu-west-1", endpoint_url=f"http://127.0.0.1:{closed_port()}",
                             access_key_id_env="AK", secret_access_key_env="SK", timeout="1s"),
                     {"AK": "AKIDEXAMPLE", "SK": "secret"})
    with pytest.raises(NotifyError, match="sns: Could not connect"):
        notifier.send(FIRING, "+15550111")


@pytest.mark.parametrize("status", [200, 503])
def test_webhook_posts_signed_json(provider: ProviderFake, status: int) -> None:
    provider.status = status
    notifier = build(channel("webhook", url=f"{provider.url}/hook", secret_env="WH"), {"WH": "hook-key"})
    if status == 200:
        notifier.send(RESOLVED, None)
    else:
        with pytest.raises(NotifyError, match="webhook: HTTP 503"):
            notifier.send(RESOLVED, None)
    (request,) = provider.requests
    body = request.json()
    assert (body["incident"], body["status"], body["cell"], body["duration_seconds"]) == (7, "resolved", "eu", 754)
    expected = hmac.new(b"hook-key", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Uptime-Signature"] == f"sha256={expected}"


def test_outbox_writes_one_file_per_sms(tmp_path: Path) -> None:
    notifier = build(channel("outbox", directory=str(tmp_path / "sms")), {})
    notifier.send(FIRING, "+15550111")
    notifier.send(RESOLVED, "+15550111")
    files = sorted((tmp_path / "sms").iterdir())
    assert [f.read_text() for f in files] == [f"To: +15550111\n\n{sms_text(FIRING)}\n",
                                             f"To: +15550111\n\n{sms_text(RESOLVED)}\n"]
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(NotifyError, match="cannot write SMS to"):
        build(channel("outbox", directory=str(blocked / "sms")), {}).send(FIRING, "+15550111")


def test_email_over_starttls_with_auth(pki: Pki) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    sink = SmtpSink()
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=True)

    import datetime as dt
    now = dt.datetime.now(dt.UTC)
    context = pki.leaf("smtp", now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    port = closed_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        options = {"host": "127.0.0.1", "port": port, "starttls": True, "ca_file": str(pki.ca_file),
                   "username": "uptime", "password_env": "SMTP_PW", "from": "uptime@example.com"}
        build(channel("email", **options), {"SMTP_PW": "mail-pass"}).send(FIRING, "alice@example.com")
        assert logins == [(b"uptime", b"mail-pass")]
        assert sink.messages[0][1] == ["alice@example.com"]
        # Amazon SES: the SMTP user is an access key id, so it may come from the environment too.
        from_env = {k: v for k, v in options.items() if k != "username"} | {"username_env": "SMTP_USER"}
        build(channel("email", **from_env), {"SMTP_USER": "AKIAEXAMPLE", "SMTP_PW": "ses-pass"}).send(
            FIRING, "bob@example.com")
        assert logins[-1] == (b"AKIAEXAMPLE", b"ses-pass")
        with pytest.raises(NotifyError, match="SSLCertVerificationError"):
            build(channel("email", **{**options, "ca_file": None}), {"SMTP_PW": "mail-pass"}).send(
                FIRING, "alice@example.com")
    finally:
        controller.stop()
    with pytest.raises(NotifyError, match="ConnectionRefusedError"):
        build(channel("email", **{**options, "port": closed_port()}), {"SMTP_PW": "x"}).send(FIRING, "a@example.com")


def test_missing_secret_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"channels\.ch\.auth_token_env: environment variable TOK is not set"):
        build(channel("twilio", account_sid=SID, auth_token_env="TOK", **{"from": "+15550100"}), {})
    with pytest.raises(ConfigError, match="access_key_env: the key is not base64"):
        build(channel("acs_sms", endpoint="https://x.communication.azure.com", access_key_env="K",
                      **{"from": "+1555"}), {"K": "not base64!"})

