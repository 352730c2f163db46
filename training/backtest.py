"""The rolling backtest of the whole training procedure, and its summary for the gate.

Each fold repeats the procedure of the ``train`` stage with the fold's own test cutoff
(selection on that fold's earlier folds, split, fit, calibration, baselines), so the
fold metrics estimate what the served refit (the same procedure one horizon later)
will do. The last fold is the evaluated split (test = the latest labelled cutoff).
The summary holds the mean of each metric over folds for the model and every
baseline, and a paired bootstrap interval (customers resampled within each fold) of the
model's mean ROC-AUC and PR-AUC difference against the best baseline on that metric.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from config.root import Params
from training.metrics import average_precision_fast, roc_auc
from training.pipeline import FittedRun, evaluate_frame, fit_all, score_frame
from training.resample import Levels, average_precision_many, chunks, counts, roc_auc_many
from training.split import CutoffSplit, part

logger = logging.getLogger(__name__)

FOLD_KEYS = ("roc_auc", "pr_auc", "brier", "ece", "base_rate")
_METRIC_FN: dict[str, Callable[[NDArray[Any], NDArray[Any]], float]] = {
    "roc_auc": roc_auc,
    "pr_auc": average_precision_fast,
}
#: The same metrics over many resamples at once, and whether their levels run high first.
_METRIC_MANY: dict[str, tuple[Callable[[Levels, NDArray[np.float64]], NDArray[Any]], bool]] = {
    "roc_auc": (roc_auc_many, False),
    "pr_auc": (average_precision_many, True),
}


@dataclass(frozen=True)
class Fold:
    """One backtest fold: the split, the fitted run, its report and the test scores."""

    split: CutoffSplit
    fitted: FittedRun
    report: dict[str, Any]
    y: NDArray[Any]
    scores: dict[str, NDArray[Any]]
    test: pd.DataFrame


def run_fold(snapshots: pd.DataFrame, split: CutoffSplit, cfg: Params) -> Fold:
    """The whole procedure with ``split.test`` as the test cutoff."""
    fitted = fit_all(snapshots, split, cfg)
    test = part(snapshots, split.test)
    report = evaluate_frame(test, fitted.model, fitted.baselines, cfg)
    scores = {
        k: np.asarray(v) for k, v in score_frame(test, fitted.model, fitted.baselines).items()
    }
    return Fold(split, fitted, report, test["label"].to_numpy(), scores, test)


SCORE_KEYS = ("customer_id", "cutoff", "label")


def test_scores(fold: Fold | None) -> pd.DataFrame:
    """The evaluated fold's held-out rows: customer, cutoff, label and every scorer's
    churn probability (``model`` and each baseline), for the ``evaluate`` stage's
    curves. Without a fold, the key columns only and no rows."""
    if fold is None:
        return pd.DataFrame({k: pd.Series(dtype="float64") for k in SCORE_KEYS})
    keys = fold.test.loc[:, list(SCORE_KEYS)].reset_index(drop=True)
    return keys.assign(**{name: np.asarray(v, dtype=np.float64) for name, v in fold.scores.items()})


def _tuning(selection: dict[str, Any] | None) -> str:
    if selection is None:
        return "off"
    return "skipped" if "skipped" in selection else "grid"


def fold_row(fold: Fold) -> dict[str, Any]:
    """JSON row of one fold for ``reports/backtest.json``."""
    rep = fold.report
    return {
        **fold.split.describe(),
        "params": fold.fitted.params.model_dump(),
        "tuning": _tuning(fold.fitted.selection),
        "model": {k: rep["model"][k] for k in FOLD_KEYS},
        "baselines": {n: {k: m[k] for k in FOLD_KEYS} for n, m in rep["baselines"].items()},
        "bar_passed": rep["bar"]["passed"],
    }


def paired_mean_difference(
    folds: list[Fold], metric: str, other: str, n_boot: int, seed: int, level: float
) -> dict[str, Any]:
    """Mean over folds of metric(model) - metric(other), with a paired bootstrap CI.

    Each resample draws customers with replacement within every fold and averages the
    fold differences, so the interval reflects the same folds the mean is taken over.
    """
    fn = _METRIC_FN[metric]
    point = float(np.mean([fn(f.y, f.scores["model"]) - fn(f.y, f.scores[other]) for f in folds]))
    rng = np.random.default_rng(seed)
    diffs = np.full(n_boot, np.nan)
    many, descending = _METRIC_MANY[metric]
    levels = [
        (Levels.of(f.y, f.scores["model"], descending), Levels.of(f.y, f.scores[other], descending))
        for f in folds
    ]
    for start, stop in chunks(n_boot, sum(f.y.size for f in folds)):
        # the draws of the per-resample loop, in its order: a one-class resample of a
        # fold ends that resample (NaN) and its later folds are not drawn
        complete: list[int] = []
        drawn: list[list[NDArray[Any]]] = [[] for _ in folds]
        for i in range(start, stop):
            this = []
            for f in folds:
                idx = rng.integers(0, f.y.size, f.y.size)
                yi = f.y[idx]
                if yi.min() == yi.max():
                    break
                this.append(idx)
            else:
                complete.append(i)
                for j, idx in enumerate(this):
                    drawn[j].append(idx)
        if not complete:
            continue
        per_fold = []
        for (level_model, level_other), f, idx_list in zip(levels, folds, drawn, strict=True):
            w = counts(np.stack(idx_list), f.y.size)
            per_fold.append(many(level_model, w) - many(level_other, w))
        diffs[complete] = np.mean(np.stack(per_fold, axis=1), axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(diffs, [tail, 100 - tail])
    return {"baseline": other, "diff": point, "ci_low": float(lo), "ci_high": float(hi)}


def summarize(folds: list[Fold], cfg: Params) -> dict[str, Any]:
    """Per-fold rows, mean metrics over folds per model, paired CIs vs the best baseline."""
    if not folds:
        return {"folds": [], "mean": {}, "vs_best_baseline": {}}
    names = list(folds[0].scores)
    mean = {
        n: {
            k: float(
                np.mean(
                    [
                        (f.report["model"] if n == "model" else f.report["baselines"][n])[k]
                        for f in folds
                    ]
                )
            )
            for k in FOLD_KEYS
        }
        for n in names
    }
    ev = cfg.evaluate
    base = [n for n in names if n != "model"]
    vs = {
        metric: paired_mean_difference(
            folds,
            metric,
            max(base, key=lambda n: mean[n][metric]),
            ev.bootstrap,
            cfg.seed,
            ev.ci_level,
        )
        for metric in ("roc_auc", "pr_auc")
    }
    return {
        "folds": [fold_row(f) for f in folds],
        "test_cutoffs": [f.split.test.date().isoformat() for f in folds],
        "mean": mean,
        "vs_best_baseline": vs,
        "model_roc_auc_mean": mean["model"]["roc_auc"],
        "model_roc_auc_std": float(np.std([f.report["model"]["roc_auc"] for f in folds])),
    }
