"""Fit the model and every baseline on one temporal split, and score a cutoff.

Shared by the ``train`` stage, the ``evaluate`` stage's rolling backtest and tests, so
the main run and each backtest fold follow exactly the same procedure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.catalog import CATALOG_VERSION, FEATURE_NAMES
from scoring.model import ChurnModel
from scoring.rules import evaluate_rules
from training.baselines import Baselines, fit_baselines
from training.calibrate import choose_calibrator
from training.calibration_data import calibration_data
from training.config import TrainingConfig, TrainParams
from training.metrics import bootstrap_auc_difference, flag_metrics, probability_metrics
from training.model import fit_booster, tune
from training.split import CutoffSplit, part

logger = logging.getLogger(__name__)

KEY_COLUMNS = ("customer_id", "cutoff", "label")


def feature_columns(snapshots: pd.DataFrame) -> list[str]:
    """Catalog features present in ``snapshots``, in catalog order.

    Raises
    ------
    ValueError
        When key columns are missing, features are out of catalog order, or a column is
        neither a key nor a catalog feature.
    """
    missing = [c for c in KEY_COLUMNS if c not in snapshots.columns]
    if missing:
        raise ValueError(f"snapshot frame lacks columns {missing}")
    present = [c for c in snapshots.columns if c not in KEY_COLUMNS]
    unknown = [c for c in present if c not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"snapshot columns not in the feature catalog: {unknown}")
    ordered = [n for n in FEATURE_NAMES if n in present]
    if present != ordered:
        raise ValueError(f"snapshot features are not in catalog order: {present}")
    labels = snapshots["label"]
    if labels.isna().any() or not labels.isin([0, 1]).all():
        raise ValueError("snapshot column 'label' must be 0/1 with no missing values")
    return ordered


@dataclass(frozen=True)
class FittedRun:
    """A calibrated model and the baselines, fitted on one split."""

    model: ChurnModel
    baselines: Baselines
    params: TrainParams
    valid_score: float | None  # best tuning score on validation; None without tuning
    calibration_scores: dict[str, float]


def reference_medians(frame: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Median of each feature over ``frame`` (NaN-skipping; 0.0 if all missing)."""
    med = frame.loc[:, names].median(numeric_only=True)
    return {n: float(med.get(n, np.nan)) if pd.notna(med.get(n)) else 0.0 for n in names}


def fit_all(
    snapshots: pd.DataFrame,
    split: CutoffSplit,
    cfg: TrainingConfig,
    params: TrainParams | None = None,
) -> FittedRun:
    """Tune (unless ``params`` is given), fit, calibrate, and fit the baselines.

    The calibrator is fitted on the out-of-sample margins chosen by
    ``params.calibration_data`` (:mod:`training.calibration_data`), never on the test
    cutoff.
    """
    names = feature_columns(snapshots)
    train, valid = part(snapshots, split.train), part(snapshots, split.valid)
    valid_score: float | None = None
    if params is None:
        params = cfg.train
        if cfg.tuning.enabled:
            params, valid_score = tune(train, valid, names, cfg.train, cfg.tuning, cfg.seed)
    booster = fit_booster(train, valid, names, params, cfg.seed)
    cal = calibration_data(
        snapshots, split, names, params, cfg.seed, booster, cfg.features.horizon_days
    )
    calibrator, cal_scores = choose_calibrator(
        cal.margin, cal.label, params.calibration, params.isotonic_eps, cfg.seed
    )
    model = ChurnModel(
        booster=booster,
        calibrator=calibrator,
        feature_names=tuple(names),
        catalog_version=CATALOG_VERSION,
        reference=reference_medians(train, names),
        metadata={"params": params.model_dump(), **split.describe(), **cal.describe()},
    )
    baselines = fit_baselines(train, cfg.baselines, cfg.rules, cfg.features.horizon_days)
    return FittedRun(model, baselines, params, valid_score, cal_scores)


def score_frame(frame: pd.DataFrame, model: ChurnModel, baselines: Baselines) -> dict[str, Any]:
    """Churn probability of the model and of each baseline for every row of ``frame``."""
    return {"model": model.predict_proba(frame), **baselines.predict(frame)}


def evaluate_frame(
    frame: pd.DataFrame, model: ChurnModel, baselines: Baselines, cfg: TrainingConfig
) -> dict[str, Any]:
    """Metrics of the model and every baseline on one labelled cutoff, plus the bar.

    ``vs_best_baseline`` holds the bootstrap interval of the ROC-AUC difference between
    the model and the baseline with the highest ROC-AUC.
    """
    ev = cfg.evaluate
    y = frame["label"].to_numpy()
    scores = score_frame(frame, model, baselines)
    metrics = {
        name: probability_metrics(y, p, ev.top_fractions, ev.ece_bins) for name, p in scores.items()
    }
    flags = evaluate_rules(frame, cfg.rules).any(axis=1).to_numpy()
    metrics["rules"].update(flag_metrics(y, flags))
    base_names = [n for n in scores if n != "model"]
    best = max(base_names, key=lambda n: metrics[n]["roc_auc"])
    ci = bootstrap_auc_difference(
        y, scores["model"], scores[best], ev.bootstrap, cfg.seed, ev.ci_level
    )
    m = metrics["model"]
    bar = {
        "beats_all_roc_auc": all(m["roc_auc"] > metrics[n]["roc_auc"] for n in base_names),
        "beats_all_pr_auc": all(m["pr_auc"] > metrics[n]["pr_auc"] for n in base_names),
        "brier_not_worse": m["brier"] <= min(metrics[n]["brier"] for n in base_names),
        "ece_ok": m["ece"] <= ev.ece_max,
    }
    bar["passed"] = all(bar.values())
    return {
        "model": m,
        "baselines": {n: metrics[n] for n in base_names},
        "vs_best_baseline": {"baseline": best, **ci},
        "bar": bar,
    }
