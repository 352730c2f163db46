"""``evaluate`` stage: metrics of the evaluated procedure and every baseline on the test
cutoff for ``dvc metrics``, curves for ``dvc plots``, and the rolling backtest.

Nothing is refitted: the ``train`` stage's last backtest fold is the evaluated split
(its metrics are ``test`` in ``reports/train.json``, the numbers the gate judged), and
train writes that fold's held-out scores (``--test-scores``), from which the ROC,
precision-recall, reliability and gains curves are drawn here. The served bundle is a
refit whose calibration saw the latest labelled cutoff, so it is not scored there.

    python -m training.evaluate --params params.yaml \
        --train-report reports/train.json \
        --test-scores data/processed/test_scores.parquet \
        --metrics reports/metrics.json --plots reports/plots \
        --backtest reports/backtest.json
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from config.root import Params, load_params
from config.stage import setup_logging, stage_args
from training.plots import curve_tables, write_plot_data, write_pngs

logger = logging.getLogger(__name__)


def evaluated_metrics(
    scores: pd.DataFrame, cfg: Params, train: dict[str, Any], plots: Path
) -> dict[str, Any]:
    """The evaluated fold's metrics (from ``train``), curves from its ``scores``.

    Raises
    ------
    ValueError
        When ``scores`` are not the held-out rows of the fold ``train`` evaluated (a
        different cutoff or row count, or a scorer missing): rerun ``train``.
    """
    backtest = train["backtest"]
    summary = {
        "backtest_mean": backtest["mean"],
        "backtest_vs_best_baseline": backtest["vs_best_baseline"],
        "degradations": train["degradations"],
    }
    plots.mkdir(parents=True, exist_ok=True)
    if train["test"] is None:
        return {"test_cutoff": None, **summary}
    cutoff = train["split"]["test_cutoff"]
    test = train["test"]
    names = ["model", *test["baselines"]]
    days = sorted({pd.Timestamp(c).date().isoformat() for c in scores["cutoff"]})
    problems = [f"no column {n!r}" for n in names if n not in scores.columns]
    if days != [cutoff]:
        problems.append(f"cutoffs {days}, not {cutoff}")
    if len(scores) != test["model"]["n"]:
        problems.append(f"{len(scores)} rows, not {test['model']['n']}")
    if problems:
        raise ValueError(
            "the test scores are not the held-out rows reports/train.json evaluated ("
            + "; ".join(problems)
            + "): rerun the train stage"
        )
    tables = curve_tables(
        scores["label"].to_numpy(),
        {n: scores[n].to_numpy() for n in names},
        cfg.evaluate.ece_bins,
    )
    write_plot_data(tables, plots)
    write_pngs(tables, plots)
    return {"test_cutoff": cutoff, **test, **summary}


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"test cutoff {report['test_cutoff']}")
    for col in ("model", "roc_auc", "pr_auc", "brier", "ece", "lift_at_10pct"):
        table.add_column(col)
    rows = {"model": report["model"], **report["baselines"]}
    for name, m in rows.items():
        table.add_row(
            name,
            *(f"{m[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece")),
            f"{m['lift_at_10pct']:.2f}",
        )
    return table


def _backtest_table(backtest: dict[str, Any]) -> Table:
    cutoffs = ", ".join(backtest["test_cutoffs"])
    table = Table(title=f"mean over backtest folds ({cutoffs})")
    for col in ("model", "roc_auc", "pr_auc", "brier", "ece"):
        table.add_column(col)
    for name, m in backtest["mean"].items():
        table.add_row(name, *(f"{m[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece")))
    return table


def main(argv: list[str] | None = None) -> int:
    """Stage entry point (wiring only)."""
    args = stage_args(argv, __doc__, "train-report", "test-scores", "metrics", "plots", "backtest")
    setup_logging()
    cfg = load_params(args.params)
    train = json.loads(args.train_report.read_text())
    report = evaluated_metrics(pd.read_parquet(args.test_scores), cfg, train, args.plots)
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    args.metrics.write_text(json.dumps(report, indent=2))
    args.backtest.parent.mkdir(parents=True, exist_ok=True)
    args.backtest.write_text(json.dumps(train["backtest"], indent=2))
    console = Console()
    if report["test_cutoff"] is None:
        console.print("[yellow]no held-out test cutoff (short history): no metrics[/]")
        return 0
    console.print(_table(report))
    console.print(_backtest_table(train["backtest"]))
    console.print(f"bar: {report['bar']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
