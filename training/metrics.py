"""Ranking, calibration and top-k metrics for the model and every baseline.

All functions take ``y`` (1 = churned) and a score or probability per row and return
plain floats, so the results go straight into ``reports/metrics.json`` for
``dvc metrics`` and into MLflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from training.resample import (
    Levels,
    chunks,
    counts,
    roc_auc_many,
)

Array = NDArray[np.float64]

# Probabilities are clipped before log loss so a degenerate score cannot give inf.
_LOGLOSS_EPS = 1e-6


def _check(y: NDArray[Any], score: NDArray[Any]) -> tuple[NDArray[np.int8], Array]:
    y_arr = np.asarray(y).astype(np.int8)
    s_arr = np.asarray(score, dtype=np.float64)
    if y_arr.shape != s_arr.shape:
        raise ValueError(f"labels {y_arr.shape} and scores {s_arr.shape} differ in shape")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if np.isnan(s_arr).any():
        raise ValueError(f"scores hold {int(np.isnan(s_arr).sum())} NaN values")
    return y_arr, s_arr


def roc_auc(y: NDArray[Any], score: NDArray[Any]) -> float:
    """ROC-AUC by the Mann-Whitney rank formula (ties count one half)."""
    y_arr, s_arr = _check(y, score)
    pos = int(y_arr.sum())
    neg = y_arr.size - pos
    if pos == 0 or neg == 0:
        raise ValueError("ROC-AUC needs both classes")
    ranks = rankdata(s_arr)
    return float((ranks[y_arr == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def pr_auc(y: NDArray[Any], score: NDArray[Any]) -> float:
    """Area under the precision-recall curve as average precision (sklearn's
    ``average_precision_score``, :func:`average_precision_sklearn`)."""
    y_arr, s_arr = _check(y, score)
    return average_precision_sklearn(y_arr, s_arr)


def average_precision_fast(y: NDArray[Any], score: NDArray[Any]) -> float:
    """Average precision as sklearn computes it (ties grouped by threshold), without its
    input validation: the bootstrap calls it thousands of times."""
    y_arr = np.asarray(y, dtype=np.float64)
    s_arr = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s_arr, kind="mergesort")
    s_sorted, y_sorted = s_arr[order], y_arr[order]
    last = np.r_[np.diff(s_sorted) != 0, True]
    tps = np.cumsum(y_sorted)[last]
    n_pred = np.arange(1, y_arr.size + 1)[last]
    if tps[-1] == 0:
        return 0.0
    precision = tps / n_pred
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def expected_calibration_error(y: NDArray[Any], prob: NDArray[Any], bins: int = 10) -> float:
    """ECE with equal-width probability bins, weighted by the share of rows per bin."""
    y_arr, p = _check(y, prob)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y_arr[mask].mean())
    return float(total)


def top_k(y: NDArray[Any], score: NDArray[Any], fraction: float) -> tuple[float, float]:
    """Precision and lift among the ``fraction`` highest-scored rows.

    Ties are broken by row order (stable sort) so the result is deterministic.
    """
    y_arr, s_arr = _check(y, score)
    k = max(1, round(fraction * y_arr.size))
    order = np.argsort(-s_arr, kind="stable")[:k]
    precision = float(y_arr[order].mean())
    return precision, precision / float(y_arr.mean())


def brier(y: NDArray[Any], prob: NDArray[Any]) -> float:
    """sklearn's ``brier_score_loss`` of 0/1 labels, the same arithmetic (bit-identical)
    without its input validation."""
    y_arr = np.asarray(y, dtype=np.float64)
    sq = ((1.0 - y_arr) - (1.0 - prob)) ** 2 + (y_arr - prob) ** 2
    return float(np.average(sq) * 0.5)


def binary_log_loss(y: NDArray[Any], prob: NDArray[Any]) -> float:
    """sklearn's ``log_loss`` of 0/1 labels, the same arithmetic (bit-identical) without
    its input validation."""
    eps = np.finfo(np.float64).eps
    y_arr = np.asarray(y)
    neg = np.clip(1.0 - prob, eps, 1 - eps)
    pos = np.clip(prob, eps, 1 - eps)
    loss = -(np.where(y_arr == 1, 0.0, np.log(neg)) + np.where(y_arr == 1, np.log(pos), 0.0))
    return float(np.average(loss))


def average_precision_sklearn(y: NDArray[Any], score: NDArray[Any]) -> float:
    """sklearn's ``average_precision_score`` of 0/1 labels, its own arithmetic
    (precision-recall curve reversed, step integral; bit-identical) without its input
    validation."""
    y_arr = np.asarray(y, dtype=np.float64)
    order = np.argsort(score, kind="mergesort")[::-1]
    s_sorted, y_sorted = np.asarray(score)[order], y_arr[order]
    thresholds = np.r_[np.flatnonzero(np.diff(s_sorted)), y_arr.size - 1]
    tps = np.cumsum(y_sorted)[thresholds]
    fps = 1 + thresholds - tps
    ps = tps + fps
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(ps != 0, np.divide(tps, ps), 0.0)
    recall = np.full(tps.shape, 1.0) if tps[-1] == 0 else tps / tps[-1]
    precision = np.r_[precision[::-1], 1.0]
    recall = np.r_[recall[::-1], 0.0]
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def probability_metrics(
    y: NDArray[Any], prob: NDArray[Any], top_fractions: tuple[float, ...], ece_bins: int
) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, log loss, ECE, and precision/lift at each top fraction."""
    y_arr, p = _check(y, prob)
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    out = {
        "roc_auc": roc_auc(y_arr, p),
        "pr_auc": pr_auc(y_arr, p),
        "brier": brier(y_arr, p),
        "log_loss": binary_log_loss(y_arr, np.clip(p, _LOGLOSS_EPS, 1 - _LOGLOSS_EPS)),
        "ece": expected_calibration_error(y_arr, p, ece_bins),
        "base_rate": float(y_arr.mean()),
        "n": float(y_arr.size),
    }
    for frac in top_fractions:
        precision, lift = top_k(y_arr, p, frac)
        pct = f"{round(frac * 100):d}"
        out[f"precision_at_{pct}pct"] = precision
        out[f"lift_at_{pct}pct"] = lift
    return out


def flag_metrics(y: NDArray[Any], flags: NDArray[Any]) -> dict[str, float]:
    """Precision, recall and flag rate of a yes/no rule (e.g. "any vendor rule fires")."""
    y_arr, f = _check(y, np.asarray(flags, dtype=np.float64))
    flagged = f > 0
    n_flag = int(flagged.sum())
    return {
        "rule_precision": float(y_arr[flagged].mean()) if n_flag else 0.0,
        "rule_recall": float(flagged[y_arr == 1].mean()) if y_arr.any() else 0.0,
        "rule_flag_rate": float(flagged.mean()),
    }


def bootstrap_auc_difference(
    y: NDArray[Any],
    score_a: NDArray[Any],
    score_b: NDArray[Any],
    n_boot: int,
    seed: int,
    level: float = 0.95,
) -> dict[str, float]:
    """Paired bootstrap (resampling customers) of ROC-AUC(a) - ROC-AUC(b).

    Returns the point difference and the percentile interval at ``level``.
    """
    y_arr, a = _check(y, score_a)
    _, b = _check(y, score_b)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    level_a, level_b = Levels.of(y_arr, a), Levels.of(y_arr, b)
    for start, stop in chunks(n_boot, y_arr.size):  # same draws as one per resample
        w = counts(rng.integers(0, y_arr.size, (stop - start, y_arr.size)), y_arr.size)
        diffs[start:stop] = roc_auc_many(level_a, w) - roc_auc_many(level_b, w)
    tail = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(diffs, [tail, 100 - tail])
    return {
        "auc_diff": roc_auc(y_arr, a) - roc_auc(y_arr, b),
        "auc_diff_ci_low": float(lo),
        "auc_diff_ci_high": float(hi),
    }


def bootstrap_ece(
    y: NDArray[Any], prob: NDArray[Any], bins: int, n_boot: int, seed: int, level: float = 0.95
) -> dict[str, float]:
    """Percentile interval of the ECE over ``n_boot`` resamples of the customers.

    Per-bin sums are taken with ``bincount`` on each resample, the same equal-width bins
    and row-share weights as :func:`expected_calibration_error`.
    """
    y_arr, p = _check(y, prob)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    n = y_arr.size
    for i in range(n_boot):
        rows = rng.integers(0, n, n)
        b = idx[rows]
        count = np.bincount(b, minlength=bins)
        gap = np.bincount(b, weights=p[rows], minlength=bins) - np.bincount(
            b, weights=y_arr[rows].astype(float), minlength=bins
        )
        values[i] = float(np.abs(gap).sum() / n) if count.sum() else np.nan
    tail = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(values, [tail, 100 - tail])
    return {"ece_ci_low": float(lo), "ece_ci_high": float(hi)}
