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

from bundle.model import ChurnModel
from config.progress import steps
from config.root import Params
from config.training import TrainParams
from features.catalog import FEATURE_NAMES
from training.baselines import Baselines, fit_baselines
from training.blend import content_digest, fit_blend
from training.calibrate import choose_calibrator
from training.calibration_data import calibration_data
from training.fold_memo import FoldMemo, baseline_metrics
from training.metrics import (
    bootstrap_auc_difference,
    bootstrap_ece,
    probability_metrics,
)
from training.model import fit_booster, tune
from training.recalibrate import forward_calibrator
from training.split import (  # selection_splits: re-exported for callers
    ALL_LABELLED,
    CutoffSplit,
    part,
    selection_splits,
    train_part,
    valid_part,
)

logger = logging.getLogger(__name__)

KEY_COLUMNS = ("customer_id", "cutoff", "label")
SELECTION_KEYS = ("roc_auc", "pr_auc", "brier", "log_loss", "ece")
_METRIC_KEY = {"average_precision": "pr_auc", "roc_auc": "roc_auc", "logloss": "log_loss"}


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
    valid_score: float | None  # best tuning/selection score; None without tuning
    calibration_scores: dict[str, float]
    selection: dict[str, Any] | None = None  # backtest_grid: every candidate's fold scores


def reference_medians(frame: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Median of each feature over ``frame`` (NaN-skipping; 0.0 if all missing)."""
    med = frame.loc[:, names].median(numeric_only=True)
    return {n: float(med.get(n, np.nan)) if pd.notna(med.get(n)) else 0.0 for n in names}


def fit_all(
    snapshots: pd.DataFrame,
    split: CutoffSplit,
    cfg: Params,
    params: TrainParams | None = None,
    memo: FoldMemo | None = None,
) -> FittedRun:
    """Tune (unless ``params`` is given), fit, calibrate, and fit the baselines.

    ``memo``: the fold's shared work (:class:`FoldMemo`), here its training rows.

    The calibrator is fitted on the out-of-sample margins chosen by
    ``params.calibration_data`` (:mod:`training.calibration_data`), never on the test
    cutoff.
    """
    names = feature_columns(snapshots)
    train = train_part(snapshots, split) if memo is None else memo.train_rows(snapshots, split)
    valid = valid_part(snapshots, split)
    valid_score: float | None = None
    selection: dict[str, Any] | None = None
    if params is None:
        params = cfg.train
        if cfg.tuning.enabled and cfg.tuning.method == "backtest_grid":
            params, valid_score, selection = select_grid(snapshots, split, cfg)
        elif cfg.tuning.enabled:
            params, valid_score = tune(train, valid, names, cfg.train, cfg.tuning, cfg.seed)
    linear = None
    if split.mode == ALL_LABELLED:
        if params.calibration not in ("identity", "auto"):
            raise ValueError(
                "split.window=all_labelled leaves no held-out cutoff for a "
                f"{params.calibration!r} calibrator: set train.calibration: auto (chosen on "
                "the selection folds) or identity"
            )
        plain = params.model_copy(update={"calibration": "identity"})
        booster, linear, calibrator = fit_blend(train, names, plain, cfg.seed)
        cal_scores: dict[str, float] = {}
        cal_note: dict[str, Any] = {"calibration_data": "none (identity)"}
        if params.calibration == "auto":  # chosen on the selection folds, out of time
            folds = selection_splits(
                snapshots,
                cfg.features.horizon_days,
                cfg.split,
                split.test,
                cfg.tuning.selection_folds,
            )
            calibrator, cal_note = forward_calibrator(snapshots, folds, names, params, cfg)
            cal_scores = cal_note.get("calibration_mean_brier", {})
    else:
        booster = fit_booster(train, valid, names, params, cfg.seed)
        cal = calibration_data(
            snapshots, split, names, params, cfg.seed, booster, cfg.features.horizon_days
        )
        calibrator, cal_scores = choose_calibrator(
            cal.margin, cal.label, params.calibration, params.isotonic_eps, cfg.seed
        )
        cal_note = cal.describe()
    model = ChurnModel.new(
        booster,
        calibrator,
        tuple(names),
        cfg.features,
        reference=_medians(train, names, memo),
        metadata={"params": params.model_dump(), **split.describe(), **cal_note},
        linear=linear,
        blend_weight=params.blend_weight,
    )
    baselines = _baselines(train, cfg)
    return FittedRun(model, baselines, params, valid_score, cal_scores, selection)


def _medians(train: pd.DataFrame, names: list[str], memo: FoldMemo | None) -> dict[str, float]:
    if memo is None:
        return reference_medians(train, names)
    if memo.medians is None:
        memo.medians = reference_medians(train, names)
    return dict(memo.medians)


_BASELINES: dict[str, Baselines] = {}


def _baselines(train: pd.DataFrame, cfg: Params) -> Baselines:
    """Baselines of ``train``, memoised: grid candidates share their folds' rows."""
    key = repr(
        (
            sorted(str(t) for t in pd.unique(train["cutoff"])),
            len(train),
            content_digest(train),
            cfg.baselines,
            cfg.rules,
            cfg.features.horizon_days,
        )
    )
    if key not in _BASELINES:
        if len(_BASELINES) > 16:
            _BASELINES.clear()
        _BASELINES[key] = fit_baselines(train, cfg.baselines, cfg.rules, cfg.features.horizon_days)
    return _BASELINES[key]


def score_frame(frame: pd.DataFrame, model: ChurnModel, baselines: Baselines) -> dict[str, Any]:
    """Churn probability of the model and of each baseline for every row of ``frame``."""
    return {"model": model.predict_proba(frame), **baselines.predict(frame)}


def evaluate_frame(
    frame: pd.DataFrame,
    model: ChurnModel,
    baselines: Baselines,
    cfg: Params,
    with_ci: bool = True,
    memo: FoldMemo | None = None,
) -> dict[str, Any]:
    """Metrics of the model and every baseline on one labelled cutoff, plus the bar.

    ``vs_best_baseline`` holds the bootstrap interval of the ROC-AUC difference between
    the model and the baseline with the highest ROC-AUC. ``memo``: what candidates
    scored on the same rows share (:class:`FoldMemo`).
    """
    ev = cfg.evaluate
    y = frame["label"].to_numpy()
    if memo is None:
        p_model = model.predict_proba(frame)
        base_scores, base_metrics = baseline_metrics(frame, baselines, cfg)
    else:
        p_model = memo.model_proba(frame, model)
        base_scores, base_metrics = memo.baseline_metrics(frame, baselines, cfg)
    scores = {"model": p_model, **base_scores}
    metrics = {
        "model": probability_metrics(y, p_model, ev.top_fractions, ev.ece_bins),
        **{n: dict(m) for n, m in base_metrics.items()},
    }
    base_names = [n for n in scores if n != "model"]
    best = max(base_names, key=lambda n: metrics[n]["roc_auc"])
    ci = (
        bootstrap_auc_difference(
            y, scores["model"], scores[best], ev.bootstrap, cfg.seed, ev.ci_level
        )
        if with_ci
        else {}
    )
    m = metrics["model"]
    if with_ci:  # the model's ECE with its bootstrap interval (one test cutoff is noisy)
        m.update(
            bootstrap_ece(y, scores["model"], ev.ece_bins, ev.bootstrap, cfg.seed, ev.ci_level)
        )
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


def score_candidate(
    snapshots: pd.DataFrame,
    cfg: Params,
    params: TrainParams,
    splits: list[CutoffSplit],
    memos: dict[pd.Timestamp, FoldMemo] | None = None,
) -> dict[str, Any]:
    """Model and best-baseline metrics of one candidate on each selection fold + means.

    ``memos``: one :class:`FoldMemo` per fold test cutoff, shared by the candidates of
    one comparison on the same ``snapshots``.

    A fold the candidate cannot be fitted on (e.g. ``forward`` calibration without an
    earlier training cutoff) is recorded with its error and left out of the means.
    """
    if params.calibration == "auto" and cfg.split.window == ALL_LABELLED:
        # candidates are compared uncalibrated (ROC-AUC does not see a monotone map);
        # the chosen one gets its calibration from these same folds in fit_all
        params = params.model_copy(update={"calibration": "identity"})
    folds: list[dict[str, Any]] = []
    for split in splits:
        memo = None if memos is None else memos.setdefault(split.test, FoldMemo())
        try:
            fitted = fit_all(snapshots, split, cfg, params, memo)
        except ValueError as exc:
            folds.append({"test_cutoff": split.test.date().isoformat(), "error": str(exc)})
            continue
        report = evaluate_frame(
            part(snapshots, split.test), fitted.model, fitted.baselines, cfg, False, memo
        )
        base = report["baselines"]
        folds.append(
            {
                "test_cutoff": split.test.date().isoformat(),
                "model": {k: report["model"][k] for k in SELECTION_KEYS},
                "best_baseline": {
                    "roc_auc": max(m["roc_auc"] for m in base.values()),
                    "pr_auc": max(m["pr_auc"] for m in base.values()),
                    "brier": min(m["brier"] for m in base.values()),
                },
                "trees": int(fitted.model.booster.num_trees()),
            }
        )
    ok = [f for f in folds if "model" in f]
    means = {
        k: float(np.mean([f["model"][k] for f in ok])) if ok else float("nan")
        for k in SELECTION_KEYS
    }
    return {"folds": folds, "mean": means, "n_folds": len(ok)}


def grid_entries(
    grid: tuple[dict[str, float | int], ...], cross: dict[str, tuple[float, ...]] | None = None
) -> list[dict[str, float | int]]:
    """Every grid entry crossed with every combination of the ``cross`` values."""
    entries = [dict(e) for e in grid]
    for key, values in (cross or {}).items():
        entries = [{**e, key: v} for e in entries for v in values]
    return entries


def grid_candidates(base: TrainParams, grid: list[dict[str, float | int]]) -> list[TrainParams]:
    """``base`` updated by each grid entry, validated (a bad key or value names itself)."""
    return [TrainParams.model_validate({**base.model_dump(), **entry}) for entry in grid]


def select_grid(
    snapshots: pd.DataFrame, split: CutoffSplit, cfg: Params
) -> tuple[TrainParams, float | None, dict[str, Any]]:
    """The ``tuning.grid`` entry with the best mean ``tuning.metric`` on earlier folds.

    Folds are the ``tuning.selection_folds`` rolling-origin splits whose label window
    ends by ``split.test`` (:func:`selection_splits`), so nothing of the test window is
    seen. Ties keep the first entry. With fewer than ``tuning.min_selection_folds``
    folds (a short history) tuning is skipped: ``train:`` is used as it stands, and the
    table says why (``skipped``). Returns the params, their mean score (None when
    skipped) and every candidate's fold scores.

    Raises
    ------
    ValueError
        When the grid is empty.
    """
    if not cfg.tuning.grid:
        raise ValueError("tuning.method=backtest_grid needs a non-empty tuning.grid")
    splits = selection_splits(
        snapshots, cfg.features.horizon_days, cfg.split, split.test, cfg.tuning.selection_folds
    )
    if len(splits) < cfg.tuning.min_selection_folds:
        reason = (
            f"tuning skipped for test cutoff {split.test.date()}: {len(splits)} selection "
            f"fold(s) with labels ending by it, tuning.min_selection_folds="
            f"{cfg.tuning.min_selection_folds}; train: settings used as they stand"
        )
        logger.warning(reason)
        return cfg.train, None, {"skipped": reason, "folds": [s.describe() for s in splits]}
    key = _METRIC_KEY[cfg.tuning.metric]
    sign = -1.0 if key == "log_loss" else 1.0
    entries = grid_entries(cfg.tuning.grid, cfg.tuning.cross)
    candidates = grid_candidates(cfg.train, entries)
    label = f"tuning grid for {split.test.date()}"
    memos: dict[pd.Timestamp, FoldMemo] = {}
    results = [score_candidate(snapshots, cfg, p, splits, memos) for p in steps(candidates, label)]
    scores = [sign * r["mean"][key] for r in results]
    if all(np.isnan(v) for v in scores):
        raise ValueError(f"tuning.grid: no entry could be fitted on the folds {results}")
    best = int(np.nanargmax(scores))
    logger.info(
        "backtest grid on %s: mean %s %s -> entry %d",
        [s.test.date().isoformat() for s in splits],
        key,
        [round(sign * v, 4) for v in scores],
        best,
    )
    table = {
        "metric": key,
        "folds": [s.test.date().isoformat() for s in splits],
        "candidates": [{"update": e, **r} for e, r in zip(entries, results, strict=True)],
        "chosen": best,
    }
    return candidates[best], sign * scores[best], table
