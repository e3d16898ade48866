"""A bad environment never reaches the planner: residency is enforced first when the file is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.environment import InvalidEnvironment, load_file
from infra.mocks import evaluate
from tests.policy.test_policy_inputs import ALL_PARTS, datatier

BAD = """\
config:
  slotstack:cells:
    au:
      residency: au
      primary_region: australiaeast
      secondary_region: australiasoutheast
      aws_region: us-east-1
      hostname: au.bad.book.example.com
  slotstack:oncall:
    receivers:
      - {name: Ops, email: ops@example.com}
"""


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_au_cell_with_a_us_bucket_region_is_refused_with_the_allowed_regions(bad_file: Path) -> None:
    with pytest.raises(InvalidEnvironment) as caught:
        load_file(bad_file)
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    for part in ("cells.au.aws_region", "'us-east-1' (United States)", "outside residency 'au'",
                 "ap-southeast-2, ap-southeast-4"):
        assert part in problem, f"the error must name {part!r}: {problem}"


def test_nothing_is_planned_from_a_bad_environment(bad_file: Path) -> None:
    errors: list[InvalidEnvironment] = []

    def program() -> None:
        try:
            env = load_file(bad_file)
        except InvalidEnvironment as error:
            errors.append(error)
            return
        datatier(env, ALL_PARTS)()

    plan = evaluate("bad", program)
    assert errors, "loading must fail"
    assert plan.resources == [], f"resources were planned from a bad environment: {plan.resources}"
    assert plan.providers == {}
