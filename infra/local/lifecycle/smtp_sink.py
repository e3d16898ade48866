"""The local SMTP sink: accepts every message on 127.0.0.1 and saves it as an .eml file.

Run as `python -m infra.local.lifecycle.smtp_sink --port P --outbox DIR`; the stack supervises it like any
other process. Files are written atomically (temp name, then rename) so a reader never sees half a
message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from itertools import count
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_seq = count()


class SaveToFolder:
    """aiosmtpd handler: one `<time>-<n>.eml` per message, envelope recipients in X-Envelope-To."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{next(_seq):04d}.eml"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        header = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(header.encode() + data)
        os.replace(tmp, self.folder / name)
        return "250 Message accepted for delivery"


def serve(port: int, outbox: Path) -> None:
    """Serve until SIGTERM or SIGINT."""
    controller = Controller(SaveToFolder(outbox), hostname="127.0.0.1", port=port)
    controller.start()
    loop = asyncio.new_event_loop()
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    print(f"smtp sink listening on 127.0.0.1:{port}, saving to {outbox}", flush=True)
    try:
        loop.run_until_complete(stopped.wait())
    finally:
        controller.stop()
        loop.close()


def main(argv: list[str] | None = None) -> None:
    """Command line: --port and --outbox."""
    parser = argparse.ArgumentParser(description="SMTP sink that saves every message as .eml")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.outbox)


if __name__ == "__main__":
    main()
