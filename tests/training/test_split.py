"""Temporal split: label windows end by the test cutoff; strict vs non-strict."""

from __future__ import annotations

import pandas as pd
import pytest

from config.training import SplitParams
from training.split import (
    CutoffSplit,
    backtest_splits,
    labelled_cutoffs,
    make_split,
    part,
    served_split,
    split_cutoffs,
    train_part,
    valid_part,
)

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
    params = SplitParams(strict=False, max_train_cutoffs=2)
    split = split_cutoffs(CUTOFFS, 90, params, test=CUTOFFS[-1])
    assert split.train == (CUTOFFS[2], CUTOFFS[3])


def test_default_split_is_out_of_time() -> None:
    # Early stopping and calibration read the validation cutoff: no training label may
    # fall in its label window by default.
    split = split_cutoffs(CUTOFFS, 90, SplitParams(), test=CUTOFFS[-1])
    assert split.mode == "out_of_time"
    for t in split.train:
        assert t + pd.Timedelta(days=90) <= split.valid


def test_short_history_degrades_step_by_step_and_says_so() -> None:
    overlapping = split_cutoffs(CUTOFFS[:5], 90, SplitParams(), test=CUTOFFS[4])
    assert overlapping.mode == "overlapping"
    assert overlapping.valid == CUTOFFS[1] and overlapping.train == (CUTOFFS[0],)
    assert "overlap" in (overlapping.note() or "")
    holdout = split_cutoffs(CUTOFFS[:4], 90, SplitParams(), test=CUTOFFS[3])
    assert holdout.mode == "customer_holdout"
    assert holdout.train == (CUTOFFS[0],) and holdout.valid == CUTOFFS[0]
    assert "holdout" in (holdout.note() or "")
    clean = split_cutoffs(CUTOFFS, 90, SplitParams(), test=CUTOFFS[-1])
    assert clean.note() is None


def test_customer_holdout_rows_are_disjoint_and_stable(snapshots: pd.DataFrame) -> None:
    first = labelled_cutoffs(snapshots)[0]
    split = CutoffSplit((first,), first, first + pd.Timedelta(days=90), "customer_holdout", 0.2)
    train, valid = train_part(snapshots, split), valid_part(snapshots, split)
    assert not set(train["customer_id"]) & set(valid["customer_id"])
    assert len(train) + len(valid) == len(part(snapshots, first))
    assert 0.1 < len(valid) / len(part(snapshots, first)) < 0.3
    assert valid_part(snapshots, split).equals(valid)


def test_served_split_is_the_same_procedure_one_horizon_later(snapshots: pd.DataFrame) -> None:
    cutoffs = labelled_cutoffs(snapshots)
    served = served_split(snapshots, 60, SplitParams())
    assert served.valid == cutoffs[-1]  # calibration on the latest labelled cutoff
    assert served.test == cutoffs[-1] + pd.Timedelta(days=60)
    assert all(t + pd.Timedelta(days=60) <= served.valid for t in served.train)


def test_too_few_cutoffs_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no training cutoff"):
        split_cutoffs(CUTOFFS[:4], 90, SplitParams(degrade=False), test=CUTOFFS[3])
    with pytest.raises(ValueError, match="label window"):
        split_cutoffs(CUTOFFS[:2], 90, SplitParams(), test=CUTOFFS[1])


def test_main_split_and_backtest_folds(snapshots: pd.DataFrame) -> None:
    split = make_split(snapshots, 90, SplitParams())
    assert split.test == snapshots["cutoff"].max()
    folds = backtest_splits(snapshots, 90, SplitParams(backtest_folds=5))
    assert folds[-1] == split
    assert [f.test for f in folds] == sorted(f.test for f in folds)
    # 6 cutoffs, H = 90: tests at index 5 and 4 overlap, index 3 is a customer holdout
    assert [f.mode for f in folds] == ["customer_holdout", "overlapping", "overlapping"]


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
