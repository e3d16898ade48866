"""`make check` refuses a misspelt key or a wrong enum in a nested cloud resource input.

mypy follows the Azure SDK services the program imports (pyproject.toml), and the program's helpers
return the SDK's own *ArgsDict TypedDicts, so a mistake deep inside a resource input fails the gate
instead of failing `pulumi up` against Azure. Each case plants one mistake into a copy of a real
program module and runs mypy with the project's configuration.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUTOSCALE = ROOT / "infra" / "compute" / "autoscale.py"
CDN_DOMAIN = ROOT / "infra" / "storage" / "cdn_domain.py"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for this file: the SDK services are analysed once, not once per planted mistake."""
    return tmp_path_factory.mktemp("mypy-cache")


def mypy(module: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache),
         "--no-error-summary", "--hide-error-context", str(module)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize(("original", "planted", "expected"), [
    # A misspelt key two levels deep (profiles[].rules[].metric_trigger.statistic).
    ('"statistic": monitor.MetricStatisticType.AVERAGE', '"statistc": monitor.MetricStatisticType.AVERAGE',
     'TypedDict item "metric_trigger"'),
    # A value Azure's API does not accept for an enum-typed input.
    ("monitor.MetricStatisticType.AVERAGE", '"Mean"', 'TypedDict item "metric_trigger"'),
], ids=["misspelt-nested-key", "string-for-an-enum"])
def test_mypy_refuses_a_planted_mistake_in_a_nested_input(tmp_path: Path, cache: Path, original: str, planted: str,
                                                          expected: str) -> None:
    source = AUTOSCALE.read_text(encoding="utf-8")
    assert original in source, "the planted mistake no longer matches infra/compute/autoscale.py; update this test"
    module = tmp_path / "planted_autoscale.py"
    module.write_text(source.replace(original, planted, 1), encoding="utf-8")
    result = mypy(module, cache)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout, result.stdout


def test_mypy_refuses_a_misspelt_key_in_an_aws_input(tmp_path: Path, cache: Path) -> None:
    """The same for pulumi-aws: CloudFront's viewer certificate with a misspelt key."""
    source = CDN_DOMAIN.read_text(encoding="utf-8")
    assert '"ssl_support_method": "sni-only"' in source, "update this test to infra/storage/cdn_domain.py"
    module = tmp_path / "planted_cdn_domain.py"
    module.write_text(source.replace('"ssl_support_method"', '"ssl_support_methd"', 1), encoding="utf-8")
    result = mypy(module, cache)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"ssl_support_methd"' in result.stdout, result.stdout


def test_mypy_accepts_the_module_as_it_is(tmp_path: Path, cache: Path) -> None:
    """The control: the unmodified module passes, so the failures above come from the planted mistakes."""
    module = tmp_path / "autoscale.py"
    module.write_text(AUTOSCALE.read_text(encoding="utf-8"), encoding="utf-8")
    result = mypy(module, cache)
    assert result.returncode == 0, result.stdout + result.stderr
