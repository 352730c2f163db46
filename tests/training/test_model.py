"""Behavioural and determinism tests of the fitted churn model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from config.features import FeatureParams
from config.root import Params, load_params
from config.training import SplitParams
from features.catalog import BY_NAME, FEATURE_NAMES, Family
from features.online import build_online
from training.model import monotone_constraints, tune
from training.pipeline import FittedRun, feature_columns, fit_all
from training.split import make_split, part

from .conftest import ROOT, write_params


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Params:
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    return load_params(write_params(path, "sqlite:///unused.db", tuning={"enabled": False}))


@pytest.fixture(scope="module")
def fitted(snapshots: pd.DataFrame, cfg: Params) -> FittedRun:
    return fit_all(snapshots, make_split(snapshots, 90, SplitParams()), cfg)


def test_monotone_constraints_follow_the_catalog() -> None:
    cons = monotone_constraints(list(FEATURE_NAMES))
    assert cons[FEATURE_NAMES.index("days_since_last_order")] == 1
    assert all(c == BY_NAME[n].direction for n, c in zip(FEATURE_NAMES, cons, strict=True))
    with pytest.raises(KeyError, match="not_a_feature"):
        monotone_constraints(["not_a_feature"])


def test_more_days_since_last_order_never_lowers_risk(
    fitted: FittedRun, snapshots: pd.DataFrame
) -> None:
    test = part(snapshots, snapshots["cutoff"].max())
    base = fitted.model.predict_proba(test)
    for extra in (1.0, 30.0, 365.0):
        later = test.assign(
            days_since_last_order=test["days_since_last_order"] + extra,
            overdue_ratio=test["overdue_ratio"] * (1 + extra / test["days_since_last_order"]),
        )
        assert (fitted.model.predict_proba(later) >= base - 1e-12).all()


def test_renaming_a_customer_changes_nothing(fitted: FittedRun, snapshots: pd.DataFrame) -> None:
    test = part(snapshots, snapshots["cutoff"].max())
    renamed = test.assign(customer_id="renamed-" + test["customer_id"])
    np.testing.assert_array_equal(
        fitted.model.predict_proba(test), fitted.model.predict_proba(renamed)
    )


def test_training_is_deterministic(fitted: FittedRun, snapshots: pd.DataFrame, cfg: Params) -> None:
    again = fit_all(snapshots, make_split(snapshots, 90, SplitParams()), cfg)
    assert again.model.booster.model_to_string() == fitted.model.booster.model_to_string()
    assert again.model.calibrator.to_dict() == fitted.model.calibrator.to_dict()
    assert again.baselines == fitted.baselines


def test_tuning_is_seeded(snapshots: pd.DataFrame, cfg: Params) -> None:
    split = make_split(snapshots, 90, SplitParams(max_train_cutoffs=1))
    train, valid = part(snapshots, split.train), part(snapshots, split.valid)
    names = feature_columns(snapshots)
    space = cfg.tuning.model_copy(update={"n_trials": 3})
    base = cfg.train.model_copy(update={"num_boost_round": 60, "learning_rate": 0.1})
    first = tune(train, valid, names, base, space, seed=5)
    assert tune(train, valid, names, base, space, seed=5) == first
    assert space.num_leaves[0] <= first[0].num_leaves <= space.num_leaves[1]


def test_doubling_every_amount_changes_only_value_features() -> None:
    params = FeatureParams.model_validate(
        yaml.safe_load((ROOT / "params.yaml").read_text())["features"]
    )
    ts = pd.to_datetime(["2021-01-05", "2021-03-01", "2021-05-20", "2021-06-01", "2021-02-10"])
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "order_id": ["1", "2", "3", "4", "5"],
            "order_ts": ts,
            "amount": [120.0, 300.0, -20.0, 800.0, 1500.0],
            "status": ["completed", "completed", "returned", "completed", "completed"],
        }
    )
    as_of = pd.Timestamp("2021-07-01")
    base = build_online(orders, as_of, params).set_index("customer_id")
    doubled = build_online(orders.assign(amount=orders["amount"] * 2), as_of, params)
    doubled = doubled.set_index("customer_id")
    names = [c for c in base.columns if c in FEATURE_NAMES]
    changed = [n for n in names if not base[n].equals(doubled[n])]
    value_families = {Family.SPEND_DECLINE, Family.VALUE}
    assert changed, "doubling amounts should change spend features"
    assert all(BY_NAME[n].family in value_families for n in changed), changed
    assert not any(n.endswith("_trend_90d") or n.startswith("return_rate") for n in changed)


def test_bad_snapshot_columns_are_named(snapshots: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="label"):
        feature_columns(snapshots.drop(columns=["label"]))
    swapped = snapshots[["customer_id", "cutoff", "orders_30d", "days_since_last_order", "label"]]
    with pytest.raises(ValueError, match="catalog order"):
        feature_columns(swapped)
