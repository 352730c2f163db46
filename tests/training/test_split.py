"""Temporal split: label windows end by the test cutoff; strict vs non-strict."""

from __future__ import annotations

import pandas as pd
import pytest

from config.training import SplitParams
from training.split import backtest_splits, make_split, split_cutoffs

CUTOFFS = [pd.Timestamp("2021-01-01") + pd.Timedelta(days=30 * k) for k in range(8)]


def test_non_strict_split_keeps_every_label_window_before_test() -> None:
    split = split_cutoffs(CUTOFFS, 90, SplitParams(strict=False), test=CUTOFFS[-1])
    assert split.test == CUTOFFS[7]
    assert split.valid == CUTOFFS[4]  # 120 days before test: latest with T + 90 <= T_test
    assert split.train == tuple(CUTOFFS[:4])
    for t in (*split.train, split.valid):
        assert t + pd.Timedelta(days=90) <= split.test


def test_strict_split_keeps_training_windows_before_validation() -> None:
    split = split_cutoffs(CUTOFFS, 90, SplitParams(strict=True), test=CUTOFFS[-1])
    assert split.valid == CUTOFFS[4]
    assert split.train == tuple(CUTOFFS[:2])
    for t in split.train:
        assert t + pd.Timedelta(days=90) <= split.valid


def test_max_train_cutoffs_keeps_the_latest() -> None:
    split = split_cutoffs(CUTOFFS, 90, SplitParams(max_train_cutoffs=2), test=CUTOFFS[-1])
    assert split.train == (CUTOFFS[2], CUTOFFS[3])


def test_too_few_cutoffs_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no training cutoff"):
        split_cutoffs(CUTOFFS[:5], 90, SplitParams(strict=True), test=CUTOFFS[4])
    with pytest.raises(ValueError, match="label window"):
        split_cutoffs(CUTOFFS[:2], 90, SplitParams(), test=CUTOFFS[1])


def test_main_split_and_backtest_folds(snapshots: pd.DataFrame) -> None:
    split = make_split(snapshots, 90, SplitParams())
    assert split.test == snapshots["cutoff"].max()
    folds = backtest_splits(snapshots, 90, SplitParams(backtest_folds=5))
    assert folds[-1] == split
    assert [f.test for f in folds] == sorted(f.test for f in folds)
    assert len(folds) == 2  # 6 cutoffs: tests at index 4 and 5 admit a training cutoff


def test_label_window_edges_by_hand() -> None:
    """A cutoff exactly H days before the test cutoff is allowed (its window ends at
    T_test); one a day later is not. Same edge for training under strict."""
    test = pd.Timestamp("2021-12-01")
    days = (180, 179, 120, 90, 89, 0)
    cutoffs = [test - pd.Timedelta(days=d) for d in days]
    at = dict(zip(days, cutoffs, strict=True))
    loose = split_cutoffs(cutoffs, 90, SplitParams(strict=False), test=test)
    assert loose.valid == at[90]  # at[89] + 90 days is one day after the test cutoff
    assert loose.train == (at[180], at[179], at[120])
    strict = split_cutoffs(cutoffs, 90, SplitParams(strict=True), test=test)
    assert strict.valid == at[90]
    assert strict.train == (at[180],)  # at[180] + 90 == valid exactly; at[179] a day late
