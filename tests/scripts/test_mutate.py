"""`make mutate` (scripts/mutate.py): its table still applies, and a mutant run tells a kill from a survivor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    # scripts/ is not a package: load the script as a module, the way `make mutate` runs it.
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts" / "mutate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


mutate = _load()


@pytest.mark.parametrize("mutant", mutate.MUTANTS, ids=lambda m: m.name)
def test_every_mutant_still_applies_to_the_program(mutant) -> None:
    # A guardrail's line that was edited makes its mutant stale: `make mutate` would stop with exit 2.
    mutate.check_applies(ROOT, mutant)
    for test in mutant.tests:
        assert (ROOT / test.split("::")[0]).is_file(), f"{mutant.name}: no test file {test}"


def test_a_removed_guardrail_is_killed_a_harmless_change_survives_and_the_tree_is_untouched() -> None:
    escalation = next(m for m in mutate.MUTANTS if m.name == "monitor-escalation-steps")
    harmless = mutate.Mutant("docstring", escalation.path, "whom it pages.", "who gets paged.", escalation.tests)
    before = (ROOT / escalation.path).read_bytes()
    killed, survived = mutate.mutate([escalation, harmless], say=False)
    assert killed.killed
    assert killed.failed == ("tests/infra/test_uptime_config.py::test_escalation_is_the_environments_steps_in_order",)
    assert not survived.killed, "a docstring change must survive: otherwise every mutant would look killed"
    assert "SURVIVED" in mutate.describe(survived)
    assert (ROOT / escalation.path).read_bytes() == before, "mutants are applied to a copy, never the working tree"


def test_a_stale_mutant_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "x.py").write_text("A = 1\nA = 1\n", encoding="utf-8")
    with pytest.raises(mutate.StaleMutant, match="contains the original text 2 times, not once"):
        mutate.check_applies(tmp_path, mutate.Mutant("twice", "infra/x.py", "A = 1", "A = 2", ()))
    with pytest.raises(mutate.StaleMutant, match="0 times"):
        mutate.check_applies(tmp_path, mutate.Mutant("gone", "infra/x.py", "B = 1", "B = 2", ()))
