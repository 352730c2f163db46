"""Family contributions, the Shapley impact definition and reason selection."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from bundle.calibration import SigmoidCalibrator
from bundle.model import ChurnModel
from features.catalog import BY_NAME, Family
from scoring.reasons import (
    family_contributions,
    family_map,
    reference_matrix,
    resolve_reference,
    select_reasons,
    shapley_impacts,
)


def _brute_shapley(fam: np.ndarray, bias: float, cal: SigmoidCalibrator) -> np.ndarray:
    """Shapley values by averaging marginal gains over every order of the families."""
    m = len(fam)
    out = np.zeros(m)
    orders = list(itertools.permutations(range(m)))
    for order in orders:
        total = bias
        for i in order:
            before = cal.transform(np.array([total]))[0]
            total += fam[i]
            out[i] += cal.transform(np.array([total]))[0] - before
    return out / len(orders)


def test_family_map_groups_catalog_families():
    fmap = family_map(("days_since_last_order", "orders_30d", "spend_30d", "orders_90d"))
    assert fmap.families == (Family.RECENCY, Family.FREQUENCY_DECLINE, Family.SPEND_DECLINE)
    assert fmap.member.tolist() == [0, 1, 2, 1]
    with pytest.raises(KeyError, match="not in the catalog"):
        family_map(("bogus",))


def test_family_contributions_sum_to_margin_minus_bias(model: ChurnModel, snapshot):
    contrib = model.contributions(snapshot)
    fam = family_contributions(contrib, family_map(model.feature_names))
    np.testing.assert_allclose(fam.sum(axis=1) + contrib[:, -1], model.margin(snapshot))


def test_impacts_are_the_shapley_values_of_the_calibrated_game():
    cal = SigmoidCalibrator(a=1.3, b=-0.2)
    rng = np.random.default_rng(0)
    fam = rng.normal(0, 1.0, (5, 4))
    bias = np.full(5, -0.4)
    impacts, base = shapley_impacts(fam, bias, cal, chunk_rows=2)
    for r in range(5):
        np.testing.assert_allclose(impacts[r], _brute_shapley(fam[r], -0.4, cal), atol=1e-12)
    probability = cal.transform(bias + fam.sum(axis=1))
    np.testing.assert_allclose(base + impacts.sum(axis=1), probability, atol=1e-12)


def test_two_family_impact_by_hand():
    cal = SigmoidCalibrator(a=1.0, b=0.0)
    impacts, base = shapley_impacts(np.array([[1.0, 2.0]]), np.array([0.0]), cal, 10)

    def p(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    expected = 0.5 * ((p(1) - p(0)) + (p(3) - p(2)))
    assert impacts[0, 0] == pytest.approx(expected, abs=1e-12)
    assert base[0] == pytest.approx(0.5)


def test_select_reasons_top_k_positive_and_low_risk_empty(model: ChurnModel, snapshot):
    names = model.feature_names
    contrib = model.contributions(snapshot)
    fmap = family_map(names)
    impacts, _ = shapley_impacts(
        family_contributions(contrib, fmap), contrib[:, -1], model.calibrator, 1000
    )
    x = model.matrix(snapshot)
    refs = reference_matrix(snapshot, names, resolve_reference(model.reference, snapshot, names))
    low = model.predict_proba(snapshot) < 0.3
    table = select_reasons(impacts, contrib, x, refs, fmap, low, 3, 0.005, protective=False)
    assert (table.family[low] == -1).all()
    valid = table.family >= 0
    assert (table.impact[valid] > 0.005).all()
    # best first, and each is the family's real impact
    assert (np.diff(np.where(valid, table.impact, -np.inf), axis=1)[valid[:, 1:]] <= 0).all()
    rows, ks = np.nonzero(valid)
    np.testing.assert_allclose(table.impact[rows, ks], impacts[rows, table.family[rows, ks]])
    # driving feature: the family's feature with the largest contribution among those
    # with a value (a missing value drives only when no known value raises risk)
    for r, k in zip(rows[:80], ks[:80], strict=True):
        members = np.flatnonzero(fmap.member == table.family[r, k])
        known = members[~np.isnan(x[r, members])]
        if len(known) and contrib[r, known].max() > 0:
            assert table.feature[r, k] == known[np.argmax(contrib[r, known])]
        else:
            assert table.feature[r, k] == members[np.argmax(contrib[r, members])]
    # no filler: a non-low customer whose families barely move risk gets fewer reasons
    assert (valid.sum(axis=1) <= 3).all()


def test_protective_mode_lists_risk_lowering_families(model: ChurnModel, snapshot):
    names = model.feature_names
    contrib = model.contributions(snapshot)
    fmap = family_map(names)
    impacts, _ = shapley_impacts(
        family_contributions(contrib, fmap), contrib[:, -1], model.calibrator, 1000
    )
    x = model.matrix(snapshot)
    low = np.ones(len(snapshot), dtype=bool)
    table = select_reasons(impacts, contrib, x, x * np.nan, fmap, low, 2, 0.005, True)
    assert table.protective.all()
    assert (table.impact[table.family >= 0] < -0.005).all()


def test_own_references_come_from_the_customers_history():
    frame = pd.DataFrame(
        {
            "days_since_last_order": [120.0, 10.0],
            "overdue_ratio": [4.0, 0.0],
            "gap_mean_days": [30.0, 25.0],
            "orders_90d": [1.0, 2.0],
            "orders_180d": [5.0, 2.0],
            "spend_90d": [100.0, 50.0],
            "spend_180d": [500.0, 50.0],
            "orders_trend_90d": [-0.75, np.nan],
            "spend_trend_90d": [-0.75, np.nan],
            "aov_trend_90d": [0.0, np.nan],
            "tenure_days": [400.0, 300.0],
        }
    )
    names = (
        "overdue_ratio", "orders_trend_90d", "spend_trend_90d", "aov_trend_90d", "tenure_days",
    )  # fmt: skip
    assert BY_NAME["tenure_days"].reference == "population"
    refs = reference_matrix(frame, names, {"tenure_days": 365.0})
    np.testing.assert_allclose(refs[0], [30.0, 4.0, 400.0, 100.0, 365.0])
    assert refs[1, 0] == 25.0  # ratio 0: fall back to the mean gap
    assert refs[1, 1] == 0.0  # no orders in the earlier window
    assert np.isnan(refs[1, 3])  # so no earlier average order value either


def test_missing_bundle_reference_falls_back_to_snapshot_median(caplog):
    frame = pd.DataFrame({"tenure_days": [1.0, 3.0, 10.0]})
    with caplog.at_level("WARNING"):
        ref = resolve_reference({}, frame, ("tenure_days",))
    assert ref == {"tenure_days": 3.0}
    assert "computed from the scored snapshot" in caplog.text


def test_driver_prefers_a_feature_with_a_value():
    fmap = family_map(("gap_mean_days", "overdue_ratio"))
    contrib = np.array([[0.5, 0.2, 0.0], [0.5, -0.1, 0.0]])  # last column: bias
    x = np.array([[np.nan, 3.0], [np.nan, 0.5]])
    impacts = np.array([[0.1], [0.1]])
    table = select_reasons(
        impacts, contrib, x, x, fmap, np.zeros(2, dtype=bool), 1, 0.0, protective=False
    )
    assert table.feature[:, 0].tolist() == [1, 0]  # known value if it raises risk, else NaN one
