"""SMS through AWS SNS ``Publish`` with a phone number, via boto3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from uptime.notice import Notice, sms_text
from uptime.notify.base import Channel, NotifyError, options, secret

_OPTIONS = ["region", "endpoint_url", "access_key_id_env", "secret_access_key_env", "sender_id", "timeout"]


@dataclass(frozen=True)
class Settings:
    """The channel's options, read once."""

    region: str
    endpoint_url: str | None
    sender_id: str | None
    timeout: float


def settings(channel: Channel) -> Settings:
    """``region`` is required; credentials come from the named env vars or boto3's usual chain."""
    sec = options(channel, _OPTIONS)
    return Settings(region=sec.text("region", pattern=r"[a-z]{2}(-[a-z]+)+-\d"),
                    endpoint_url=sec.opt_str("endpoint_url"), sender_id=sec.opt_str("sender_id"),
                    timeout=sec.duration("timeout", "10s"))


validate = settings


class SnsNotifier:
    """``sns.publish(PhoneNumber=..., Message=...)`` as a transactional SMS."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        opts = settings(channel)
        kwargs: dict[str, Any] = {"region_name": opts.region}
        if opts.endpoint_url:
            kwargs["endpoint_url"] = opts.endpoint_url
        key_id = secret(channel, "access_key_id", environ, required=False)
        if key_id:
            kwargs["aws_access_key_id"] = key_id
            kwargs["aws_secret_access_key"] = secret(channel, "secret_access_key", environ)
        timeout = opts.timeout
        kwargs["config"] = BotoConfig(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
        self.client = boto3.session.Session().client("sns", **kwargs)
        self.sender_id = opts.sender_id

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Publish one SMS; SNS returns a MessageId when it accepted it."""
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        try:
            reply = self.client.publish(PhoneNumber=recipient or "", Message=sms_text(notice),
                                        MessageAttributes=attributes)
        except (BotoCoreError, ClientError) as exc:
            raise NotifyError(f"sns: {exc}") from exc
        if not reply.get("MessageId"):
            raise NotifyError("sns: no MessageId in the reply")
