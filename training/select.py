"""Choose calibration and LightGBM defaults on backtest folds *before* the test cutoff.

Every candidate (a calibration data source x calibrator kind, or a hyper-parameter
setting) is refitted on each rolling-origin fold whose label window ends by the latest
labelled cutoff (``s + H <= T``, :func:`training.split.selection_splits`), so nothing
of the test window that ``dvc metrics show`` reports is seen by the choice. Run by
hand, not by DVC:

    python -m training.select --params params.yaml \
        --snapshots data/processed/snapshots.parquet --folds 3 --out /tmp/select.json

``--grid calibration`` (default) compares ``train.calibration_data`` x
``train.calibration``; ``--grid lgbm`` compares a fixed set of LightGBM settings with
the calibration from params (``tuning.method: backtest_grid`` makes the ``train`` stage
run the same comparison over ``tuning.grid`` on every run). Both print per-fold and
mean metrics.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from config.root import Params, load_params
from config.training import TrainParams
from training.pipeline import score_candidate, selection_splits
from training.split import labelled_cutoffs

logger = logging.getLogger(__name__)

_KEYS = ("roc_auc", "pr_auc", "brier", "ece")

#: The LightGBM settings compared by ``--grid lgbm`` (updates of ``train:``).
LGBM_GRID: dict[str, dict[str, Any]] = {
    "lgbm_defaults": {
        "num_leaves": 31,
        "max_depth": -1,
        "min_data_in_leaf": 20,
        "learning_rate": 0.1,
        "lambda_l2": 0.0,
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
    },
    "d2_l4_m200": {"num_leaves": 4, "max_depth": 2, "min_data_in_leaf": 200},
    "d2_l4_m100": {"num_leaves": 4, "max_depth": 2, "min_data_in_leaf": 100},
    "d3_l7_m100": {"num_leaves": 7, "max_depth": 3, "min_data_in_leaf": 100},
    "d3_l7_m200": {"num_leaves": 7, "max_depth": 3, "min_data_in_leaf": 200},
    "d1_l2_m100": {"num_leaves": 2, "max_depth": 1, "min_data_in_leaf": 100},
    "d1_l2_m200": {"num_leaves": 2, "max_depth": 1, "min_data_in_leaf": 200},
    "d1_l2_m400": {"num_leaves": 2, "max_depth": 1, "min_data_in_leaf": 400},
    "d1_l2_m200_lr01": {
        "num_leaves": 2,
        "max_depth": 1,
        "min_data_in_leaf": 200,
        "learning_rate": 0.1,
    },
    "d4_l15_m100": {"num_leaves": 15, "max_depth": 4, "min_data_in_leaf": 100},
}


def candidates(cfg: Params, grid: str) -> dict[str, TrainParams]:
    """Named TrainParams to compare for ``grid`` (``calibration`` or ``lgbm``)."""
    if grid == "calibration":
        return {
            f"{data}/{kind}": cfg.train.model_copy(
                update={"calibration_data": data, "calibration": kind}
            )
            for data in ("validation", "forward", "grouped_oof")
            for kind in ("sigmoid", "isotonic")
        }
    if grid == "lgbm":
        return {name: cfg.train.model_copy(update=upd) for name, upd in LGBM_GRID.items()}
    raise ValueError(f"unknown --grid {grid!r} (calibration | lgbm)")


def _table(results: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    table.add_column("candidate")
    cutoffs = sorted({f["test_cutoff"] for r in results.values() for f in r["folds"]})
    for c in cutoffs:
        table.add_column(f"{c} AUC/AP/Brier/ECE")
    table.add_column("mean AUC/AP/Brier/ECE")
    for name, r in results.items():
        cells = []
        by_cut = {f["test_cutoff"]: f for f in r["folds"]}
        for c in cutoffs:
            f = by_cut.get(c, {})
            m = f.get("model")
            cells.append("n/a" if m is None else "/".join(f"{m[k]:.4f}" for k in _KEYS))
        mean = r["mean"]
        cells.append(f"{'/'.join(f'{mean[k]:.4f}' for k in _KEYS)} ({r['n_folds']} folds)")
        table.add_row(name, *cells)
    return table


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (wiring only)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--snapshots", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=3, help="folds before the test cutoff")
    parser.add_argument("--grid", choices=("calibration", "lgbm"), default="calibration")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = load_params(args.params)
    snapshots = pd.read_parquet(args.snapshots)
    latest = labelled_cutoffs(snapshots)[-1]
    splits = selection_splits(snapshots, cfg.features.horizon_days, cfg.split, latest, args.folds)
    results = {
        name: score_candidate(snapshots, cfg, params, splits)
        for name, params in candidates(cfg, args.grid).items()
    }
    console = Console(width=200)
    console.print(_table(results, f"selection folds (test cutoff excluded), grid {args.grid}"))
    if splits:
        fold0 = results[next(iter(results))]["folds"]
        console.print(
            "best baseline per fold: "
            + "; ".join(f"{f['test_cutoff']}: {f.get('best_baseline')}" for f in fold0)
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
