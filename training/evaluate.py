"""``evaluate`` stage: metrics of the model and every baseline on the test cutoff for
``dvc metrics``, curves for ``dvc plots``, and a rolling backtest across cutoffs.

    python -m training.evaluate --params params.yaml \
        --snapshots data/processed/snapshots.parquet \
        --model-dir models/churn --baselines models/baselines.json \
        --metrics reports/metrics.json --plots reports/plots \
        --backtest reports/backtest.json
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from bundle.model import ChurnModel
from config.root import Params, load_params
from config.stage import setup_logging, stage_args
from config.training import TrainParams
from training.baselines import Baselines
from training.pipeline import evaluate_frame, fit_all, score_frame
from training.plots import curve_tables, write_plot_data, write_pngs
from training.split import backtest_splits, make_split, part

logger = logging.getLogger(__name__)

_BACKTEST_KEYS = ("roc_auc", "pr_auc", "brier", "ece", "base_rate")


def backtest(snapshots: pd.DataFrame, cfg: Params, params: TrainParams) -> dict[str, Any]:
    """Refit model and baselines on each rolling-origin fold (tuned params fixed).

    Each fold trains on cutoffs before its own validation cutoff and is scored on its
    own test cutoff, so the spread across folds shows how stable the metrics are.
    """
    folds = []
    for split in backtest_splits(snapshots, cfg.features.horizon_days, cfg.split):
        fitted = fit_all(snapshots, split, cfg, params=params)
        report = evaluate_frame(part(snapshots, split.test), fitted.model, fitted.baselines, cfg)
        row: dict[str, Any] = {**split.describe()}
        row["model"] = {k: report["model"][k] for k in _BACKTEST_KEYS}
        row["baselines"] = {
            n: {k: m[k] for k in _BACKTEST_KEYS} for n, m in report["baselines"].items()
        }
        row["bar_passed"] = report["bar"]["passed"]
        folds.append(row)
    aucs = np.array([f["model"]["roc_auc"] for f in folds]) if folds else np.array([np.nan])
    return {
        "folds": folds,
        "model_roc_auc_mean": float(aucs.mean()),
        "model_roc_auc_std": float(aucs.std()),
    }


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


def main(argv: list[str] | None = None) -> int:
    """Stage entry point (wiring only)."""
    args = stage_args(
        argv, __doc__, "snapshots", "model-dir", "baselines", "metrics", "plots", "backtest"
    )
    setup_logging()
    cfg = load_params(args.params)
    snapshots = pd.read_parquet(args.snapshots)
    model = ChurnModel.load(args.model_dir)
    baselines = Baselines.from_dict(json.loads(args.baselines.read_text()))
    split = make_split(snapshots, cfg.features.horizon_days, cfg.split)
    test = part(snapshots, split.test)
    report = {
        "test_cutoff": split.test.date().isoformat(),
        **evaluate_frame(test, model, baselines, cfg),
    }
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    args.metrics.write_text(json.dumps(report, indent=2))
    tables = curve_tables(
        test["label"].to_numpy(), score_frame(test, model, baselines), cfg.evaluate.ece_bins
    )
    write_plot_data(tables, args.plots)
    write_pngs(tables, args.plots)
    params = TrainParams.model_validate(model.metadata["params"])
    args.backtest.parent.mkdir(parents=True, exist_ok=True)
    args.backtest.write_text(json.dumps(backtest(snapshots, cfg, params), indent=2))
    console = Console()
    console.print(_table(report))
    console.print(f"bar: {report['bar']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
