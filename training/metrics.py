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
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

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
    """Area under the precision-recall curve as average precision."""
    y_arr, s_arr = _check(y, score)
    return float(average_precision_score(y_arr, s_arr))


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
        "brier": float(brier_score_loss(y_arr, p)),
        "log_loss": float(log_loss(y_arr, np.clip(p, _LOGLOSS_EPS, 1 - _LOGLOSS_EPS))),
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
    for i in range(n_boot):
        idx = rng.integers(0, y_arr.size, y_arr.size)
        yi = y_arr[idx]
        if yi.min() == yi.max():
            diffs[i] = np.nan
            continue
        diffs[i] = roc_auc(yi, a[idx]) - roc_auc(yi, b[idx])
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
