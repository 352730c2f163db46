"""Time the whole pipeline, `dvc repro --force` from ingest through score, alerts and report.

Runs in a temporary copy of the repository with its own MLflow SQLite store, so the
working tree and its registry are untouched:

    python -m benchmarks.bench_pipeline                    # bundled data, 3 runs
    python -m benchmarks.bench_pipeline --customers 1500   # a smaller sample
    python -m benchmarks.bench_pipeline --report pipeline.json

Each of ``--repeats`` (>= 3) runs is a ``dvc repro --force`` of every stage; the median
is reported with min and max, and the runs must give identical metrics
(``reports/metrics.json``; exit 1 otherwise). The floor, measured in the same
invocation after each run, is ``dvc repro`` with nothing to do (DVC's own cost of
checking every stage). ``--customers N`` keeps the raw rows of N customers (seeded).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console

from benchmarks.repo_copy import copy_repo, pipeline_env
from benchmarks.stats import Spread, machine, repeats_arg, write_report

ROOT = Path(__file__).resolve().parents[1]
RAW = "data/raw/online_retail.parquet"


def _sample(repo: Path, customers: int, seed: int) -> None:
    raw = pd.read_parquet(repo / RAW)
    ids = pd.Series(raw["CustomerID"].dropna().unique()).sample(customers, random_state=seed)
    raw[raw["CustomerID"].isin(ids)].to_parquet(repo / RAW)


def stages(repo: Path) -> list[str]:
    """Every stage of the copy's ``dvc.yaml``, in file order (the pipeline order)."""
    return list(yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))["stages"])


def _repro(repo: Path, *extra: str) -> tuple[float, list[str]]:
    """Seconds of ``dvc repro *extra`` in ``repo`` and the stages it ran."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "repro", *extra],
        cwd=repo,
        env=pipeline_env(repo),
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    ran = [line.split("'")[1] for line in done.stdout.splitlines() if "Running stage" in line]
    return seconds, ran


def run_once(repo: Path) -> tuple[float, float, dict[str, Any]]:
    """One forced run of every stage, then the no-op floor; and the metrics written."""
    seconds, ran = _repro(repo, "--force")
    if sorted(ran) != sorted(stages(repo)):
        raise RuntimeError(f"dvc repro --force ran stages {ran}, expected {stages(repo)}")
    floor, again = _repro(repo)
    if again:
        raise RuntimeError(f"a second dvc repro re-ran {again}: the pipeline is not stable")
    return seconds, floor, json.loads((repo / "reports/metrics.json").read_text())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Repeats, sample size, seed, report path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repeats_arg(parser)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline ``--repeats`` times in a copy; print and report the median."""
    args = parse_args(argv)
    before = machine()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_repo(Path(tmp))
        if args.customers:
            _sample(repo, args.customers, args.seed)
        names = stages(repo)
        runs = []
        for i in range(args.repeats):
            runs.append(run_once(repo))
            console.print(
                f"run {i + 1}: dvc repro --force ({len(names)} stages) {runs[-1][0]:.1f} s, "
                f"no-op dvc repro {runs[-1][1]:.1f} s"
            )
    total, floor = Spread.of([r[0] for r in runs]), Spread.of([r[1] for r in runs])
    same = all(r[2] == runs[0][2] for r in runs)
    m = runs[-1][2]["model"]
    console.print(f"whole pipeline ({', '.join(names)}): {total.text()}")
    console.print(f"floor, dvc repro with nothing to do: {floor.text()}")
    console.print(f"ratio to floor (medians): {total.median / floor.median:.1f}x")
    console.print(f"model roc_auc={m['roc_auc']:.4f} pr_auc={m['pr_auc']:.4f}")
    console.print(f"identical metrics across runs: {same}")
    summary = {
        "customers": args.customers,
        "stages": names,
        **total.as_dict("pipeline_seconds"),
        **floor.as_dict("floor_seconds"),
        "ratio_to_floor": total.median / floor.median,
        "identical_metrics": same,
        "roc_auc": m["roc_auc"],
        "pr_auc": m["pr_auc"],
    }
    write_report(args.report, "bench_pipeline", before, summary)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
