"""The blended model: linear part, all_labelled window, candidate grid, exact reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundle.linear import LinearPart, symlog
from bundle.model import ChurnModel
from config.root import load_params
from config.training import TrainParams, TuningParams
from training.blend import fit_blend
from training.experiment import pin_tuning
from training.linear import fit_linear
from training.pipeline import fit_all, grid_entries, selection_splits
from training.split import ALL_LABELLED, labelled_cutoffs, split_cutoffs

from .conftest import ROOT, make_snapshots

H = 90


def _names(snapshots: pd.DataFrame) -> list[str]:
    return [c for c in snapshots.columns if c not in ("customer_id", "cutoff", "label")]


def test_symlog_is_monotone_and_keeps_missing() -> None:
    x = np.array([-1e6, -3.0, -0.5, 0.0, 0.5, 3.0, 1e6, np.nan])
    t = symlog(x)
    assert np.all(np.diff(t[:-1]) > 0) and np.isnan(t[-1]) and t[3] == 0.0


def test_linear_contributions_sum_to_its_margin(snapshots: pd.DataFrame) -> None:
    names = _names(snapshots)
    part = fit_linear(snapshots, names, 0.1)
    x = snapshots.loc[:, names].to_numpy(float)
    contrib = part.contributions(x)
    np.testing.assert_allclose(contrib.sum(axis=1), part.margin(x), rtol=0, atol=1e-9)
    # the intercept is the expected margin over the training rows (inputs have mean 0)
    assert abs(part.standardized(x).mean(axis=0)).max() < 1e-9


def test_coefficient_signs_follow_the_catalog_directions() -> None:
    """Unconstrained, a correlated copy would take the 'wrong' sign; bounded it cannot."""
    rng = np.random.default_rng(3)
    n = 4000
    days = rng.exponential(60, n)
    overdue = days / 30 + rng.normal(0, 0.05, n)  # nearly collinear with days
    logit = 3 * np.log1p(overdue) - 1.5 * np.log1p(days) + 2  # days "protects", given overdue
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    rows = pd.DataFrame({"days_since_last_order": days, "overdue_ratio": overdue, "label": y})
    names = ["days_since_last_order", "overdue_ratio"]
    free = fit_linear(rows, names, 100.0, monotone=False)
    bounded = fit_linear(rows, names, 100.0, monotone=True)
    assert min(free.coef) < 0  # the unconstrained fit does use a negative sign here
    assert min(bounded.coef) >= 0.0


def test_linear_part_rejects_one_class() -> None:
    rows = pd.DataFrame({"days_since_last_order": [1.0, 2.0], "label": [1, 1]})
    with pytest.raises(ValueError, match="one label class"):
        fit_linear(rows, ["days_since_last_order"], 0.1)


def test_linear_part_parse_names_the_bad_vector() -> None:
    d = LinearPart((0.0,), (0.0,), (1.0,), (0.5,), 0.1, 0.1).to_dict()
    with pytest.raises(ValueError, match="coef"):
        LinearPart.from_dict({**d, "coef": [1.0, 2.0]}, 1)


def test_a_rare_feature_cannot_extrapolate_to_a_huge_log_odds() -> None:
    """A feature almost always 0 in training has a tiny scale; a later cutoff where many
    customers have it must not get a margin far outside anything seen in training (on a
    nine-month Complete Journey cut it made one fold's linear part rank at ROC-AUC 0.59)."""
    rng = np.random.default_rng(5)
    n = 3000
    days = rng.exponential(40, n)
    rare = np.where(rng.random(n) < 0.002, 1.0, 0.0)  # nearly constant in training
    y = (rng.random(n) < 1 / (1 + np.exp(-(np.log1p(days) - 3.5 + 2 * rare)))).astype(int)
    rows = pd.DataFrame({"days_since_last_order": days, "regular_categories_missed_90d": rare,
                         "label": y})  # fmt: skip
    names = ["days_since_last_order", "regular_categories_missed_90d"]
    part = fit_linear(rows, names, 1.0)
    x = rows.loc[:, names].to_numpy(float)
    seen = part.contributions(x)
    later = np.column_stack([days, np.full(n, 40.0)])  # every customer far above training
    # each input's contribution stays within what training rows got
    assert part.contributions(later)[:, 1].max() <= seen[:, 1].max() + 1e-9
    # training rows are never clipped: contributions and the intercept stay exact
    z = part.standardized(x)
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(part.contributions(later).sum(axis=1), part.margin(later))
    again = LinearPart.from_dict(part.to_dict(), 2)
    np.testing.assert_array_equal(again.margin(later), part.margin(later))
    with pytest.raises(ValueError, match="come together"):
        LinearPart.from_dict({k: v for k, v in part.to_dict().items() if k != "high"}, 2)
    # winsorised at the 0.5% quantiles, a value seen in 0.2% of the rows carries no weight
    robust = fit_linear(rows, names, 1.0, winsor=0.005)
    assert np.all(robust.standardized(later)[:, 1] == 0.0)
    np.testing.assert_allclose(robust.standardized(x).mean(axis=0), 0.0, atol=1e-9)


def test_all_labelled_split_trains_on_every_labelled_cutoff(snapshots: pd.DataFrame) -> None:
    cfg = load_params(ROOT / "params.yaml")
    cutoffs = labelled_cutoffs(snapshots)
    test = cutoffs[-1]
    split = split_cutoffs(cutoffs, H, cfg.split, test=test)
    assert split.mode == ALL_LABELLED
    assert list(split.train) == [t for t in cutoffs if t + pd.Timedelta(days=H) <= test]
    assert split.describe()["valid_cutoff"] is None


def test_selection_folds_end_their_labels_by_the_cutoff_they_select_for() -> None:
    snapshots = make_snapshots(n_customers=100, n_cutoffs=10)
    cfg = load_params(ROOT / "params.yaml")
    cutoffs = labelled_cutoffs(snapshots)
    before = cutoffs[-1]
    folds = selection_splits(snapshots, H, cfg.split, before, 3)
    assert folds
    horizon = pd.Timedelta(days=H)
    for fold in folds:
        assert fold.test + horizon <= before  # label window of the fold ends by T
        assert all(t + horizon <= fold.test for t in fold.train)


def test_blended_bundle_reasons_sum_to_its_margin_and_survive_a_round_trip(
    snapshots: pd.DataFrame, tmp_path
) -> None:
    cfg = load_params(ROOT / "params.yaml")
    cutoffs = labelled_cutoffs(snapshots)
    split = split_cutoffs(cutoffs, H, cfg.split, test=cutoffs[-1])
    params = cfg.train.model_copy(update={"blend_weight": 0.4, "num_boost_round": 40})
    fitted = fit_all(snapshots, split, cfg, params=params)
    model = fitted.model
    assert model.linear is not None and model.blend_weight == 0.4
    rows = snapshots.loc[snapshots["cutoff"] == cutoffs[-1]]
    contrib = model.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), model.margin(rows), atol=1e-9)
    x = model.matrix(rows)
    gbm = model.booster.predict(x, raw_score=True)
    np.testing.assert_allclose(
        model.margin(rows), 0.4 * gbm + 0.6 * model.linear.margin(x), atol=1e-12
    )
    loaded = ChurnModel.load(model.save(tmp_path / "b"))
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    assert loaded.contract()["blend_weight"] == 0.4


def test_a_booster_alone_has_no_linear_part(snapshots: pd.DataFrame, tmp_path) -> None:
    cfg = load_params(ROOT / "params.yaml")
    cutoffs = labelled_cutoffs(snapshots)
    split = split_cutoffs(cutoffs, H, cfg.split, test=cutoffs[-1])
    params = cfg.train.model_copy(update={"blend_weight": 1.0, "num_boost_round": 20})
    model = fit_all(snapshots, split, cfg, params=params).model
    assert model.linear is None
    rows = snapshots.loc[snapshots["cutoff"] == cutoffs[-1]]
    x = model.matrix(rows)
    np.testing.assert_array_equal(model.margin(rows), model.booster.predict(x, raw_score=True))
    assert ChurnModel.load(model.save(tmp_path / "b")).linear is None


def test_all_labelled_needs_identity_calibration(snapshots: pd.DataFrame) -> None:
    names = _names(snapshots)
    params = TrainParams(calibration="sigmoid", num_boost_round=5)
    with pytest.raises(ValueError, match=r"train\.calibration: identity"):
        fit_blend(snapshots, names, params, 0)
    cfg = load_params(ROOT / "params.yaml")
    cutoffs = labelled_cutoffs(snapshots)
    split = split_cutoffs(cutoffs, H, cfg.split, test=cutoffs[-1])
    with pytest.raises(ValueError, match=r"train\.calibration: auto"):
        fit_all(snapshots, split, cfg, params=params)


def test_grid_is_crossed_with_every_combination() -> None:
    entries = grid_entries(
        ({"num_leaves": 4}, {"num_leaves": 7}), {"blend_weight": (0.5, 1.0), "linear_c": (0.1,)}
    )
    assert len(entries) == 4
    assert {"num_leaves": 7, "blend_weight": 1.0, "linear_c": 0.1} in entries


def test_an_explicitly_set_blend_weight_leaves_the_search() -> None:
    tuning = TuningParams(
        method="backtest_grid",
        grid=({"num_leaves": 4},),
        cross={"blend_weight": (0.0, 0.5, 1.0), "linear_c": (0.1, 1.0)},
    )
    pinned = pin_tuning(tuning, TrainParams(blend_weight=0.3), ["blend_weight"])
    assert "blend_weight" not in pinned.cross and pinned.cross["linear_c"] == (0.1, 1.0)
    assert pinned.enabled
