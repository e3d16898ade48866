"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def url_table(data: dict[str, Any]) -> str:
    """What `slotstack up` prints once everything is ready."""
    rows: list[list[object]] = []
    for name, cell in data["cells"].items():
        db = cell["database"]
        rows.append([name, cell["url"], cell["demo_tenant"]["page"], db["primary"]["port"],
                     f"{db['replica']['port']} ({cell['replication']})"])
    lines = [table(["cell", "booking service", "demo booking page", "PostgreSQL", "replica"], rows), ""]
    lines.append(f"status page   {data['monitor']['status_page']}")
    lines.append(f"monitor       {data['monitor']['url']}/metrics")
    lines.append(f"email (SMTP)  127.0.0.1:{data['smtp']['port']} -> {data['smtp']['outbox']}/*.eml")
    lines.append(f"SMS outbox    {data['monitor']['sms_outbox']}")
    lines.append(f"state         {data['state_dir']}/state.json")
    return "\n".join(lines)
