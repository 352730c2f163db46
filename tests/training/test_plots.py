"""training.plots: the ROC and precision-recall points equal scikit-learn's, ties and
one-class cutoffs included; the curve tables are those the sklearn points give."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_curve

from training.plots import curve_tables, pr_points, roc_points


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    out = []
    for n, levels in ((50, None), (400, 7), (3000, None), (1000, 30), (3, None)):
        y = (rng.random(n) < 0.3).astype(int)
        y[0], y[-1] = 0, 1
        s = rng.random(n) if levels is None else rng.integers(0, levels, n) / levels
        out.append((y, s))
    return out


@pytest.mark.parametrize("case", range(5))
def test_points_equal_sklearn(case: int) -> None:
    y, s = _cases()[case]
    fpr, tpr, _ = roc_curve(y, s)
    ours = roc_points(y, s)
    np.testing.assert_array_equal(ours[0], fpr)
    np.testing.assert_array_equal(ours[1], tpr)
    precision, recall, _ = precision_recall_curve(y, s)
    ours = pr_points(y, s)
    np.testing.assert_array_equal(ours[0], precision)
    np.testing.assert_array_equal(ours[1], recall)


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_cutoff_as_sklearn(label: int) -> None:
    y, s = np.full(20, label), np.linspace(0, 1, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fpr, tpr, _ = roc_curve(y, s)
        precision, recall, _ = precision_recall_curve(y, s)
    np.testing.assert_array_equal(roc_points(y, s)[0], fpr)
    np.testing.assert_array_equal(roc_points(y, s)[1], tpr)
    np.testing.assert_array_equal(pr_points(y, s)[0], precision)
    np.testing.assert_array_equal(pr_points(y, s)[1], recall)


def test_curve_tables_hold_the_sklearn_points() -> None:
    y, s = _cases()[2]
    tables = curve_tables(y, {"model": s}, 10)
    fpr, tpr, _ = roc_curve(y, s)
    roc = tables["roc"]["model"]
    assert roc["fpr"].iloc[0] == fpr[0] and roc["fpr"].iloc[-1] == fpr[-1]
    assert set(zip(roc["fpr"], roc["tpr"], strict=True)) <= set(zip(fpr, tpr, strict=True))
    assert len(roc) <= 201
