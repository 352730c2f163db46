"""The vectorised bootstrap (training.resample) against the per-resample loop it replaced."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

from training.backtest import paired_mean_difference
from training.metrics import (
    average_precision_fast,
    average_precision_sklearn,
    binary_log_loss,
    bootstrap_auc_difference,
    bootstrap_ece,
    brier,
    roc_auc,
)
from training.resample import (
    Levels,
    average_precision_many,
    chunks,
    counts,
    roc_auc_many,
)


def _case(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.round(y * 0.3 + rng.random(n), 2)  # many ties
    return y, score


def test_counts_match_the_drawn_rows() -> None:
    idx = np.array([[0, 0, 2], [1, 2, 2]])
    assert counts(idx, 3).tolist() == [[2.0, 0.0, 1.0], [0.0, 1.0, 2.0]]


def test_chunks_cover_every_resample_once() -> None:
    spans = list(chunks(1000, 3_000_000))
    assert spans[0] == (0, 1) and spans[-1] == (999, 1000) and len(spans) == 1000
    assert list(chunks(10, 100)) == [(0, 10)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_many_resamples_equal_one_at_a_time(seed: int) -> None:
    y, score = _case(300, seed)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, (50, y.size))
    idx[0] = np.flatnonzero(y == 1)[0]  # a one-class resample
    w = counts(idx, y.size)
    aucs = roc_auc_many(Levels.of(y, score), w)
    aps = average_precision_many(Levels.of(y, score, descending=True), w)
    assert np.isnan(aucs[0]) and aps[0] == 1.0
    for i in range(1, 50):
        yi, si = y[idx[i]], score[idx[i]]
        assert aucs[i] == roc_auc(yi, si)  # bit-identical
        assert aps[i] == average_precision_fast(yi, si)


def test_bootstrap_functions_equal_the_per_resample_loop() -> None:
    y, a = _case(400, 5)
    b = np.round(np.random.default_rng(6).random(400), 1)
    rng = np.random.default_rng(7)
    diffs, eces = [], []
    p = a.clip(0, 1)
    bins = np.clip((p * 10).astype(int), 0, 9)
    for _ in range(200):
        idx = rng.integers(0, y.size, y.size)
        diffs.append(roc_auc(y[idx], a[idx]) - roc_auc(y[idx], b[idx]))
    rng = np.random.default_rng(7)
    for _ in range(200):
        idx = rng.integers(0, y.size, y.size)
        bi = bins[idx]
        gap = np.bincount(bi, weights=p[idx], minlength=10) - np.bincount(
            bi, weights=y[idx].astype(float), minlength=10
        )
        eces.append(np.abs(gap).sum() / y.size)
    got = bootstrap_auc_difference(y, a, b, 200, seed=7)
    tail = (1 - 0.95) / 2 * 100  # as the functions compute it (2.5000000000000018)
    lo, hi = np.nanpercentile(diffs, [tail, 100 - tail])
    assert (got["auc_diff_ci_low"], got["auc_diff_ci_high"]) == (lo, hi)
    ece = bootstrap_ece(y, p, 10, 200, 7)
    lo, hi = np.nanpercentile(eces, [tail, 100 - tail])
    assert (ece["ece_ci_low"], ece["ece_ci_high"]) == (lo, hi)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_point_metrics_are_sklearns_bit_for_bit(seed: int) -> None:
    y, score = _case(500, seed)
    rng = np.random.default_rng(seed)
    for p in (score / score.max(), rng.random(500), np.r_[np.zeros(250), np.ones(250)]):
        assert brier(y, p) == brier_score_loss(y, p)
        clipped = np.clip(p, 1e-6, 1 - 1e-6)
        assert binary_log_loss(y, clipped) == log_loss(y, clipped)
        assert average_precision_sklearn(y, p) == average_precision_score(y, p)


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc"])
def test_paired_fold_bootstrap_equals_the_per_resample_loop(metric: str) -> None:
    fn = {"roc_auc": roc_auc, "pr_auc": average_precision_fast}[metric]
    folds = []
    for k, n in enumerate((120, 90, 12)):  # the small fold gives one-class resamples
        y, model = _case(n, 10 + k)
        if n == 12:
            y = np.r_[np.zeros(10, dtype=int), 1, 1]
        other = np.round(np.random.default_rng(20 + k).random(n), 1)
        folds.append(SimpleNamespace(y=y, scores={"model": model, "other": other}))
    rng = np.random.default_rng(4)
    diffs = np.full(300, np.nan)
    for i in range(300):
        per_fold = []
        for f in folds:
            idx = rng.integers(0, f.y.size, f.y.size)
            yi = f.y[idx]
            if yi.min() == yi.max():
                break
            per_fold.append(fn(yi, f.scores["model"][idx]) - fn(yi, f.scores["other"][idx]))
        else:
            diffs[i] = np.mean(per_fold)
    assert np.isnan(diffs).sum() > 10  # the one-class path is exercised
    tail = (1 - 0.9) / 2 * 100
    lo, hi = np.nanpercentile(diffs, [tail, 100 - tail])
    got = paired_mean_difference(folds, metric, "other", 300, 4, 0.9)  # type: ignore[arg-type]
    assert (got["ci_low"], got["ci_high"]) == (lo, hi)
