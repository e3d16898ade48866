"""Benchmark: wall time and peak memory of planning each environment under Pulumi's mock engine.

Each environment is planned in a fresh Python process (so peak RSS is that environment's alone);
inside it the SDK imports are timed apart from the evaluation, and the environment is evaluated twice:
"cold" (first evaluation; includes the azure-native modules the SDK loads lazily, which is what
`slotstack plan` waits for) and "warm" (second evaluation in the same process, what the test suite
pays after its first plan). The baseline, measured in the same run, is a program of 200 independent
resource groups: the mock engine's cost per resource with nothing of ours in it.

    .venv/bin/python bench/plan.py [--repeat N]

Last line: {"dev_s", "staging_s", "prod_s", "prod_resources", ...} (seconds of evaluation, median).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "staging", "prod")
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyForSlotstackPlanBenchmarkOnly000000000 bench"


def _wheel(directory: Path) -> Path:
    path = directory / "booking-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("booking/__init__.py", "")
    return path


def one(env_name: str, wheel: Path) -> dict[str, float | int | str]:
    """Plan one environment in this process; report import time, evaluation time, resources, peak RSS."""
    started = time.perf_counter()
    from infra import environment, mocks, program
    from infra.compute.settings import DeploySettings, Wheel

    imported = time.perf_counter()
    settings = DeploySettings(wheel=Wheel.from_file(wheel), ssh_public_keys=(SSH_KEY,))

    def run() -> mocks.Plan:
        if env_name == "baseline":
            return mocks.evaluate("baseline", _baseline_program)
        env = environment.load(env_name)
        return mocks.evaluate(env_name, lambda: program.build(env, settings))

    plan = run()
    cold = time.perf_counter()
    run()
    warm = time.perf_counter()
    resources = sum(1 for r in plan.resources if not r.type.startswith("slotstack:"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"env": env_name, "import_s": imported - started, "evaluate_s": cold - imported,
            "warm_s": warm - cold, "resources": resources, "peak_rss_mb": round(peak_mb, 1)}


def _baseline_program() -> None:
    from pulumi_azure_native import resources

    for i in range(200):
        resources.ResourceGroup(f"rg{i}", resource_group_name=f"rg-{i}", location="eastus2", tags={"cell": "us"})


def _spawn(env_name: str, wheel: Path) -> dict[str, float | int | str]:
    out = subprocess.run([sys.executable, __file__, "--one", env_name, "--wheel", str(wheel)], cwd=REPO,
                         check=True, capture_output=True, text=True, timeout=600).stdout
    result: dict[str, float | int | str] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per environment (median reported)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--wheel", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        sys.path.insert(0, str(REPO))
        print(json.dumps(one(args.one, args.wheel)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _wheel(Path(tmp))
        summary: dict[str, float | int] = {}
        for name in ("baseline", *ENVIRONMENTS):
            runs = [_spawn(name, wheel) for _ in range(max(1, args.repeat))]
            evaluate = statistics.median(float(r["evaluate_s"]) for r in runs)
            warm = statistics.median(float(r["warm_s"]) for r in runs)
            imports = statistics.median(float(r["import_s"]) for r in runs)
            peak = max(float(r["peak_rss_mb"]) for r in runs)
            print(f"{name:>8}: cold {evaluate:6.2f} s, warm {warm:6.2f} s (medians of {len(runs)}), "
                  f"imports {imports:5.2f} s, {runs[0]['resources']} resources, peak RSS {peak:.0f} MB")
            summary[f"{name}_s"] = round(evaluate, 3)
            summary[f"{name}_warm_s"] = round(warm, 3)
            summary[f"{name}_peak_rss_mb"] = round(peak, 1)
            summary[f"{name}_resources"] = int(runs[0]["resources"])
    # Per-resource cost of the program relative to the bare engine, warm (no lazy imports in either).
    per_resource = {n: summary[f"{n}_warm_s"] / max(1, int(summary[f"{n}_resources"])) for n in ("baseline", "prod")}
    result = {"dev_s": summary["dev_s"], "staging_s": summary["staging_s"], "prod_s": summary["prod_s"],
              "prod_resources": summary["prod_resources"],
              "warm_s": {n: summary[f"{n}_warm_s"] for n in ENVIRONMENTS},
              "baseline_200_rg_warm_s": summary["baseline_warm_s"],
              "prod_per_resource_over_baseline": round(per_resource["prod"] / per_resource["baseline"], 2),
              "peak_rss_mb": {n: summary[f"{n}_peak_rss_mb"] for n in ENVIRONMENTS}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
