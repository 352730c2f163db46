"""TreeSHAP contributions: LightGBM pred_contrib == shap.TreeExplainer == dedup path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shap

from bundle.model import ChurnModel
from scoring.contributions import dedup_contributions, tree_contributions


def test_pred_contrib_equals_shap_tree_explainer(model: ChurnModel, snapshot: pd.DataFrame):
    x = model.matrix(snapshot.iloc[:200])
    ours = model.contributions(snapshot.iloc[:200])
    explainer = shap.TreeExplainer(model.booster, feature_perturbation="tree_path_dependent")
    theirs = np.asarray(explainer.shap_values(x))
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-9)
    np.testing.assert_allclose(ours[:, -1], explainer.expected_value, atol=1e-9)


def test_contributions_sum_to_margin(model: ChurnModel, snapshot: pd.DataFrame):
    contrib = model.contributions(snapshot)
    np.testing.assert_allclose(contrib.sum(axis=1), model.margin(snapshot), atol=1e-9)


def test_dedup_equals_pred_contrib_with_missing_and_zero(model: ChurnModel, snapshot: pd.DataFrame):
    x = model.matrix(snapshot)
    x[::7, 3] = np.nan  # missing values take LightGBM's default direction
    x[::5, 0] = 0.0  # exact zeros have their own bin
    direct = np.asarray(model.booster.predict(x, pred_contrib=True))
    np.testing.assert_allclose(dedup_contributions(model.booster, x), direct, atol=1e-10)


def test_dedup_handles_duplicate_rows_and_empty_input(model: ChurnModel, snapshot):
    x = np.repeat(model.matrix(snapshot.iloc[:3]), 50, axis=0)
    direct = np.asarray(model.booster.predict(x, pred_contrib=True))
    np.testing.assert_allclose(dedup_contributions(model.booster, x), direct, atol=1e-10)
    empty = dedup_contributions(model.booster, x[:0])
    assert empty.shape == (0, x.shape[1] + 1)


def test_auto_method_switches_on_batch_size(model: ChurnModel, snapshot: pd.DataFrame):
    x = model.matrix(snapshot)
    small = tree_contributions(model.booster, x[:10], "auto", dedup_min_rows=100)
    big = tree_contributions(model.booster, x, "auto", dedup_min_rows=100)
    np.testing.assert_array_equal(small, model.booster.predict(x[:10], pred_contrib=True))
    np.testing.assert_allclose(big[:10], small, atol=1e-10)


def test_dedup_exact_for_shallow_and_for_deep_trees(train_frame: pd.DataFrame):
    """Small key spaces use a dense remap, large ones hashing: both must be exact."""
    import lightgbm as lgb

    from .conftest import MODEL_FEATURES

    x = train_frame.loc[:, list(MODEL_FEATURES)].to_numpy(float)
    y = train_frame["label"].to_numpy()
    for leaves, depth in ((4, 2), (63, -1)):
        params = {"objective": "binary", "num_leaves": leaves, "max_depth": depth,
                  "verbose": -1, "seed": 1, "num_threads": 2, "min_data_in_leaf": 5}  # fmt: skip
        booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=15)
        direct = np.asarray(booster.predict(x[:800], pred_contrib=True))
        np.testing.assert_allclose(dedup_contributions(booster, x[:800]), direct, atol=1e-10)
