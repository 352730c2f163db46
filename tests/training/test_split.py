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
