"""SMS written as files into a directory: for local stacks and drills where no provider is reachable."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from itertools import count
from pathlib import Path

from uptime.notice import Notice, sms_text
from uptime.notify.base import Channel, NotifyError, options

_seq = count()


def settings(channel: Channel) -> Path:
    """``directory`` (required): where the SMS files go."""
    return Path(options(channel, ["directory"]).text("directory"))


validate = settings


class OutboxNotifier:
    """Writes ``<ns>-<incident>-<event>.sms`` containing ``To:`` and the exact SMS text."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        self.directory = settings(channel)

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Write the file atomically so a reader never sees half a message."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns()}-{next(_seq):04d}-{notice.incident_id}-{notice.event}.sms"
            tmp = self.directory / f".{name}.tmp"
            tmp.write_text(f"To: {recipient}\n\n{sms_text(notice)}\n", encoding="utf-8")
            os.replace(tmp, self.directory / name)
        except OSError as exc:
            raise NotifyError(f"cannot write SMS to {self.directory}: {exc.strerror}") from exc
