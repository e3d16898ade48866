"""docs/deploy.md states the resource counts that `slotstack plan ENV --json` prints today."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from infra import environment, mocks
from infra.commands import plan as plan_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_the_counts_in_deploy_md_are_the_plans(plan_of: Callable[[str], mocks.Plan]) -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    totals = re.search(r"totals (\d+), (\d+) and (\d+)\)", text)
    assert totals, "deploy.md no longer states the totals per environment"
    for name, stated in zip(("dev", "staging", "prod"), totals.groups(), strict=True):
        doc = plan_command.document(environment.load(name), plan_of(name))
        assert int(stated) == doc["total"], f"deploy.md says {name} has {stated} resources; the plan has {doc['total']}"
    cells = {name: plan_command.document(environment.load(name), plan_of(name))["cells"]
             for name in ("dev", "staging", "prod")}
    sentence = (f"dev's one cell {cells['dev']['us']['count']} resources, staging's "
                f"{cells['staging']['us']['count']} + {cells['staging']['eu']['count']}, prod's "
                f"{cells['prod']['us']['count']} + {cells['prod']['eu']['count']} + {cells['prod']['au']['count']}")
    assert sentence in text
