"""Model quality on any dataset: the real stages through evaluate, then the bar check.

Runs ingest → features → train → evaluate in a temporary folder with the given params
file (its relative data paths resolved against ``--data-dir``) and a private MLflow
store, then prints the test-cutoff table of the model and every baseline and the
issue-4 bar (beats every baseline on ROC-AUC and PR-AUC, Brier no worse than the best
baseline, ECE within ``evaluate.ece_max``):

    python -m benchmarks.bench_quality                                # bundled Online Retail
    python -m benchmarks.bench_quality --params params/completejourney.yaml \\
        --data-dir ../shared/data                                     # Complete Journey
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from benchmarks.repo_copy import stage_command

ROOT = Path(__file__).resolve().parents[1]
STAGES = (
    "ingest",
    "features",
    "train",
    "evaluate",
)  # run as dvc.yaml writes them (repo_copy.stage_command)


def data_sources(params: dict[str, Any]) -> list[str]:
    """Relative source paths the ``data:`` section reads (the export and its lookups)."""
    data = params["data"]
    return [data["source"], *(lk["source"] for lk in data.get("lookups") or [])]


def stage_workdir(params_path: Path, data_dir: Path | None, work: Path) -> Path:
    """A folder holding the params file and links to its data, paths as the file says."""
    params = yaml.safe_load(params_path.read_text())
    shutil.copy(params_path, work / "params.yaml")
    for rel in data_sources(params):
        found = (data_dir / Path(rel).name) if data_dir else (ROOT / rel)
        if not found.exists():
            raise SystemExit(f"data file {found} not found (source {rel!r}; see --data-dir)")
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).symlink_to(found.resolve())
    return work


def run_stages(work: Path, console: Console) -> dict[str, float]:
    """Run every stage module in ``work``; return seconds per stage."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    seconds: dict[str, float] = {}
    for module in STAGES:
        start = time.perf_counter()
        cmd = stage_command(module)
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            console.print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit(f"stage {module} failed")
        seconds[module] = time.perf_counter() - start
    return seconds


def metrics_table(metrics: dict[str, Any]) -> Table:
    """Model and baselines on the test cutoff."""
    table = Table(title=f"test cutoff {metrics['test_cutoff']}, n={metrics['model']['n']:.0f}, "
                  f"churn rate {metrics['model']['base_rate']:.3f}")  # fmt: skip
    for col in ("", "ROC-AUC", "PR-AUC", "Brier", "ECE"):
        table.add_column(col, justify="right")
    rows = {"model": metrics["model"], **metrics["baselines"]}
    for name, m in rows.items():
        table.add_row(name, *(f"{m[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece")))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="folder of the data files (default: repo)"
    )
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench_quality_") as tmp:
        work = stage_workdir(args.params.resolve(), args.data_dir, Path(tmp))
        seconds = run_stages(work, console)
        metrics = json.loads((work / "reports/metrics.json").read_text())
    console.print(metrics_table(metrics))
    console.print(f"bar: {metrics.get('bar')}")
    console.print("stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
