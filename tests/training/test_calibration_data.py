"""Calibration data sources: never the test cutoff; grouped folds never split a customer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from config.root import load_params
from config.training import EvaluateParams, RegistryParams, SplitParams, TrainParams, TuningParams
from training.calibration_data import calibration_data, customer_folds, forward_cutoffs
from training.model import fit_booster, fit_fixed
from training.pipeline import feature_columns, fit_all, select_grid, selection_splits
from training.split import CutoffSplit, labelled_cutoffs, make_split, part

from .conftest import ROOT, make_snapshots

_PARAMS = TrainParams(num_boost_round=40, early_stopping_rounds=10, num_threads=1)


@pytest.fixture(scope="module")
def long_snapshots() -> pd.DataFrame:
    """Nine cutoffs 30 days apart: enough for forward chaining with H = 90."""
    return make_snapshots(n_customers=300, n_cutoffs=9, seed=3)


def test_customer_folds_never_split_a_customer_and_cover_every_row(
    snapshots: pd.DataFrame,
) -> None:
    ids = snapshots["customer_id"].reset_index(drop=True)
    folds = customer_folds(ids, 5)
    held = np.concatenate([h for _, h in folds])
    assert np.array_equal(np.sort(held), np.arange(len(ids)))
    for fit_idx, held_idx in folds:
        assert not set(ids.iloc[fit_idx]) & set(ids.iloc[held_idx])
    with pytest.raises(ValueError, match="calibration_folds=5"):
        customer_folds(pd.Series(["a", "b", "a"]), 5)


def test_forward_cutoffs_keep_every_label_window_before_the_test_cutoff(
    long_snapshots: pd.DataFrame,
) -> None:
    cutoffs = labelled_cutoffs(long_snapshots)
    split = make_split(long_snapshots, 90, SplitParams())
    pairs = forward_cutoffs(cutoffs, split, 90, k=3)
    assert pairs
    horizon = pd.Timedelta(days=90)
    for c, train in pairs:
        assert c + horizon <= split.test
        assert train and all(t + horizon <= c for t in train)


def test_forward_cutoffs_by_hand() -> None:
    # cutoffs 30 days apart, H = 90, test = c8: c + 90 <= c8 allows c <= c5 (c5 exactly);
    # c needs a training cutoff t with t + 90 <= c, so c3 (t = c0) is the first usable one
    c = [pd.Timestamp("2021-01-01") + pd.Timedelta(days=30 * k) for k in range(9)]
    split = CutoffSplit(train=(c[0], c[1]), valid=c[5], test=c[8])
    assert forward_cutoffs(c, split, 90, k=3) == [
        (c[3], (c[0],)),
        (c[4], (c[0], c[1])),
        (c[5], (c[0], c[1], c[2])),
    ]
    assert forward_cutoffs(c, split, 90, k=2) == [(c[4], (c[0], c[1])), (c[5], (c[0], c[1], c[2]))]
    assert forward_cutoffs(c, split, 91, k=5) == [(c[4], (c[0],))]  # c5 + 91 > c8


def _margin(booster: object, frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    return booster.predict(frame.loc[:, names].to_numpy(dtype=np.float64), raw_score=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", ["validation", "forward", "grouped_oof"])
def test_calibration_margins_are_out_of_sample_and_recomputable(
    long_snapshots: pd.DataFrame, source: str
) -> None:
    """Each source's margins, recomputed here from the models it is meant to use."""
    snapshots = long_snapshots
    names = feature_columns(snapshots)
    split = make_split(snapshots, 90, SplitParams())
    params = _PARAMS.model_copy(update={"calibration_data": source})
    booster = fit_booster(
        part(snapshots, split.train), part(snapshots, split.valid), names, params, 0
    )
    data = calibration_data(snapshots, split, names, params, 0, booster, 90)
    n_trees = int(booster.num_trees())
    cutoffs = labelled_cutoffs(snapshots)  # nine, 30 days apart; test = cutoffs[8]
    if source == "validation":
        valid = part(snapshots, split.valid)
        assert data.cutoffs == (split.valid,) == (cutoffs[5],)
        np.testing.assert_array_equal(data.margin, _margin(booster, valid, names))
        np.testing.assert_array_equal(data.label, valid["label"].to_numpy())
    elif source == "forward":
        assert data.cutoffs == (cutoffs[3], cutoffs[4], cutoffs[5])
        expected, labels = [], []
        for k, c in enumerate(data.cutoffs):
            helper = fit_fixed(part(snapshots, tuple(cutoffs[: k + 1])), names, params, 0, n_trees)
            expected.append(_margin(helper, part(snapshots, c), names))
            labels.append(part(snapshots, c)["label"].to_numpy())
        np.testing.assert_allclose(data.margin, np.concatenate(expected), rtol=1e-12)
        np.testing.assert_array_equal(data.label, np.concatenate(labels))
    else:
        train = part(snapshots, split.train).reset_index(drop=True)
        assert data.cutoffs == split.train
        np.testing.assert_array_equal(data.label, train["label"].to_numpy())
        expected = np.full(len(train), np.nan)
        for fit_idx, held_idx in customer_folds(train["customer_id"], params.calibration_folds):
            helper = fit_fixed(train.iloc[fit_idx], names, params, 0, n_trees)
            expected[held_idx] = _margin(helper, train.iloc[held_idx], names)
        np.testing.assert_allclose(data.margin, expected, rtol=1e-12)
        # out of sample: the main booster's in-sample margins are not what it returned
        assert not np.allclose(data.margin, _margin(booster, train, names))


def test_forward_without_an_earlier_training_cutoff_is_a_clear_error(
    snapshots: pd.DataFrame,
) -> None:
    first = labelled_cutoffs(snapshots)[:4]
    small = snapshots.loc[snapshots["cutoff"].isin(first)]
    names = feature_columns(small)
    split = make_split(small, 60, SplitParams())
    params = _PARAMS.model_copy(update={"calibration_data": "forward"})
    booster = fit_booster(part(small, split.train), part(small, split.valid), names, params, 0)
    with pytest.raises(ValueError, match="calibration_data=forward"):
        calibration_data(small, split, names, params, 0, booster, 60)


def test_selection_folds_see_no_label_of_the_test_window(long_snapshots: pd.DataFrame) -> None:
    # The leak of issue 10: a fold with test cutoff s < T but s + H > T scores settings
    # on outcomes inside the test label window [T, T + H).
    latest = labelled_cutoffs(long_snapshots)[-1]
    horizon = pd.Timedelta(days=90)
    for params in (SplitParams(), SplitParams(strict=False)):
        splits = selection_splits(long_snapshots, 90, params, latest, folds=3)
        assert splits
        for s in splits:
            assert s.test + horizon <= latest
            assert all(t + horizon <= latest for t in (*s.train, s.valid))
            assert s.mode != "customer_holdout"


def test_selection_folds_for_a_cutoff_never_reach_past_it(long_snapshots: pd.DataFrame) -> None:
    cutoffs = labelled_cutoffs(long_snapshots)
    for before in cutoffs:
        for s in selection_splits(long_snapshots, 90, SplitParams(strict=False), before, 5):
            assert s.test + pd.Timedelta(days=90) <= before


def test_backtest_grid_selects_on_earlier_folds_only(long_snapshots: pd.DataFrame) -> None:
    cfg = load_params(ROOT / "params.yaml").model_copy(
        update={
            "seed": 0,
            "split": SplitParams(),
            "train": _PARAMS,
            "tuning": TuningParams(
                method="backtest_grid",
                selection_folds=2,
                grid=({"num_leaves": 2, "max_depth": 1}, {"num_leaves": 4, "max_depth": 2}),
            ),
            "evaluate": EvaluateParams(bootstrap=10),
            "registry": RegistryParams(enabled=False),
        }
    )
    split = make_split(long_snapshots, 90, cfg.split)
    params, score, table = select_grid(long_snapshots, split, cfg)
    last_allowed = (split.test - pd.Timedelta(days=90)).date().isoformat()
    assert table["folds"] and all(c <= last_allowed for c in table["folds"])
    means = [c["mean"]["pr_auc"] for c in table["candidates"]]
    assert score == max(means) and params.num_leaves in (2, 4)
    assert params.max_depth == cfg.tuning.grid[table["chosen"]]["max_depth"]
    fitted = fit_all(long_snapshots, split, cfg)
    assert fitted.params == params and fitted.selection == table
    bad = cfg.model_copy(
        update={"tuning": cfg.tuning.model_copy(update={"grid": ({"num_leafs": 3},)})}
    )
    with pytest.raises(ValueError, match="num_leafs"):
        select_grid(long_snapshots, split, bad)


def test_backtest_grid_is_skipped_and_says_why_on_a_short_history(
    snapshots: pd.DataFrame,
) -> None:
    cfg = load_params(ROOT / "params.yaml").model_copy(
        update={
            "seed": 0,
            "train": _PARAMS,
            "tuning": TuningParams(method="backtest_grid", grid=({"num_leaves": 4},)),
            "evaluate": EvaluateParams(bootstrap=10),
            "registry": RegistryParams(enabled=False),
        }
    )
    split = make_split(snapshots, 90, cfg.split)  # 6 cutoffs: one fold ends by the test
    params, score, table = select_grid(snapshots, split, cfg)
    assert params == cfg.train and score is None
    assert "tuning skipped" in table["skipped"] and "min_selection_folds=2" in table["skipped"]
