"""Metrics against hand-checked values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.metrics import (
    average_precision_fast,
    bootstrap_auc_difference,
    bootstrap_ece,
    expected_calibration_error,
    flag_metrics,
    probability_metrics,
    roc_auc,
    top_k,
)


def test_roc_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_ece_hand_checked() -> None:
    # bin [0.1,0.2): p=0.1 x2, observed 0.5 -> |0.1-0.5| * 2/4; bin [0.9,1]: p=0.9 x2, obs 1
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(y, p, bins=10) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)


def test_top_k_precision_and_lift() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    s = np.arange(10, 0, -1).astype(float)
    precision, lift = top_k(y, s, 0.2)
    assert precision == 0.5
    assert lift == pytest.approx(0.5 / 0.2)


def test_probability_metrics_keys_and_bad_input() -> None:
    y = np.array([0, 1, 0, 1])
    out = probability_metrics(y, np.array([0.2, 0.8, 0.3, 0.6]), (0.05, 0.1, 0.2), 10)
    assert out["roc_auc"] == 1.0
    assert {"pr_auc", "brier", "log_loss", "ece", "precision_at_5pct", "lift_at_20pct"} <= set(out)
    with pytest.raises(ValueError, match="NaN"):
        probability_metrics(y, np.array([0.2, np.nan, 0.3, 0.6]), (0.1,), 10)
    with pytest.raises(ValueError, match="shape"):
        roc_auc(y, np.array([0.1]))


def test_flag_metrics() -> None:
    out = flag_metrics(np.array([1, 1, 0, 0]), np.array([True, False, True, False]))
    assert out == {"rule_precision": 0.5, "rule_recall": 0.5, "rule_flag_rate": 0.5}


def test_bootstrap_interval_brackets_the_difference_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    a = y + rng.normal(0, 0.8, 400)
    b = y + rng.normal(0, 1.5, 400)
    first = bootstrap_auc_difference(y, a, b, 200, seed=7)
    assert first["auc_diff_ci_low"] < first["auc_diff"] < first["auc_diff_ci_high"]
    assert first["auc_diff_ci_low"] > 0  # a is clearly better
    assert bootstrap_auc_difference(y, a, b, 200, seed=7) == first


def test_fast_average_precision_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    for score in (rng.random(500), np.round(rng.random(500), 1), np.zeros(500)):
        assert average_precision_fast(y, score) == pytest.approx(
            average_precision_score(y, score), abs=1e-12
        )


def test_ece_interval_brackets_the_ece_and_narrows_with_more_customers() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n in (500, 20_000):
        p = rng.random(n)
        y = (rng.random(n) < 0.8 * p).astype(int)  # over-confident by construction
        ci = bootstrap_ece(y, p, 10, 300, 1)
        ece = expected_calibration_error(y, p, 10)
        assert ci["ece_ci_low"] <= ece <= ci["ece_ci_high"]
        widths.append(ci["ece_ci_high"] - ci["ece_ci_low"])
    assert widths[1] < widths[0] / 3
    perfect = (rng.random(20_000) < (p := rng.random(20_000))).astype(int)
    assert bootstrap_ece(perfect, p, 10, 200, 2)["ece_ci_high"] < 0.03
