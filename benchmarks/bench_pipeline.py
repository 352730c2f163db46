"""Time `dvc repro` through the evaluate stage (issue 4 bar: <= 2 minutes on 2 cores).

Runs in a temporary copy of the repository with its own MLflow SQLite store, so the
working tree and its registry are untouched:

    python -m benchmarks.bench_pipeline            # full bundled data
    python -m benchmarks.bench_pipeline --runs 2   # also checks metrics are identical
    python -m benchmarks.bench_pipeline --customers 1500   # a smaller sample

``--customers N`` keeps the raw rows of N customers (seeded) to time a smaller input.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console

from benchmarks.repo_copy import copy_repo, pipeline_env

ROOT = Path(__file__).resolve().parents[1]
RAW = "data/raw/online_retail.parquet"


def _sample(repo: Path, customers: int, seed: int) -> None:
    raw = pd.read_parquet(repo / RAW)
    ids = pd.Series(raw["CustomerID"].dropna().unique()).sample(customers, random_state=seed)
    raw[raw["CustomerID"].isin(ids)].to_parquet(repo / RAW)


def _repro(repo: Path) -> float:
    env = pipeline_env(repo)
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "repro", "--force", "evaluate"],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    ran = [line.split("'")[1] for line in done.stdout.splitlines() if "Running stage" in line]
    if ran != ["ingest", "features", "train", "evaluate"]:
        raise RuntimeError(f"dvc repro --force ran stages {ran}, expected all four")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time dvc repro through evaluate.")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        copy_repo(repo)
        if args.customers:
            _sample(repo, args.customers, args.seed)
        results = []
        for i in range(args.runs):
            seconds = _repro(repo)
            metrics = json.loads((repo / "reports/metrics.json").read_text())
            results.append((seconds, metrics))
            console.print(f"run {i + 1}: dvc repro --force through evaluate: {seconds:.1f} s")
        m = results[-1][1]["model"]
        console.print(f"model roc_auc={m['roc_auc']:.4f} pr_auc={m['pr_auc']:.4f}")
        if args.runs > 1:
            same = all(r[1] == results[0][1] for r in results)
            console.print(f"identical metrics across runs: {same}")
            return 0 if same else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
