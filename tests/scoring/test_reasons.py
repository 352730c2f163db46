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
    eligible,
    family_contributions,
    family_map,
    reference_matrix,
    resolve_reference,
    select_reasons,
)
from scoring.shapley import shapley_impacts


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


def test_bounded_impacts_are_exact_up_to_the_bound_and_add_up_beyond():
    """13 families with ``max_players=6``: a row with at most 6 nonzero families gets its
    exact Shapley values; a row with more still adds up to the probability exactly, its
    6 - 2 largest families come close to their exact values, and each pooled family's
    impact has the sign of its contribution."""
    cal = SigmoidCalibrator(a=1.1, b=0.1)
    rng = np.random.default_rng(3)
    fam = rng.normal(0, 0.8, (40, 13)) * rng.uniform(0.05, 1.0, 13)
    fam[:20, 6:] = 0.0  # rows 0-19: six nonzero families
    fam[:5, 2] = 0.0  # rows 0-4: five
    bias = rng.normal(-0.5, 0.3, 40)
    exact, base = shapley_impacts(fam, bias, cal, 7)
    bounded, base_b = shapley_impacts(fam, bias, cal, 7, max_players=6)
    for r in (0, 7):  # the zero families are null players of the exact game
        np.testing.assert_allclose(exact[r, :6], _brute_shapley(fam[r, :6], bias[r], cal),
                                   atol=1e-12)  # fmt: skip
        np.testing.assert_allclose(exact[r, 6:], 0.0, atol=1e-12)
    np.testing.assert_allclose(bounded[:20], exact[:20], atol=1e-12)
    np.testing.assert_array_equal(base_b, base)
    np.testing.assert_allclose(base + bounded.sum(axis=1), cal.transform(bias + fam.sum(axis=1)),
                               atol=1e-12)  # fmt: skip
    pooled = bounded[20:]
    assert np.abs(pooled - exact[20:]).max() > 1e-9  # beyond the bound it is not exact
    largest = np.argsort(-np.abs(fam[20:]), axis=1)[:, :4]
    rows = np.arange(20)[:, None]
    np.testing.assert_allclose(pooled[rows, largest], exact[20:][rows, largest], atol=0.01)
    small = np.ones((20, 13), dtype=bool)
    small[rows, largest] = False
    assert (np.sign(pooled[small]) == np.sign(fam[20:][small])).all()
    # the bound does nothing when the model has no more families than players
    same, _ = shapley_impacts(fam[:, :6], bias, cal, 7, max_players=6)
    np.testing.assert_allclose(same, shapley_impacts(fam[:, :6], bias, cal, 7)[0], atol=0)


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
    # whose value reads as a risk (differs from its reference in the risky direction)
    ok = eligible(x, refs, names, 1.0)
    for r, k in zip(rows[:80], ks[:80], strict=True):
        members = np.flatnonzero(fmap.member == table.family[r, k])
        candidates = members[ok[r, members] & (contrib[r, members] > 0)]
        assert table.feature[r, k] == candidates[np.argmax(contrib[r, candidates])]
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


def test_driver_must_read_as_a_risk_or_the_family_is_no_reason():
    fmap = family_map(("gap_mean_days", "overdue_ratio"))
    contrib = np.array([[0.5, 0.2, 0.0], [0.5, 0.3, 0.0], [0.1, 0.4, 0.0]])  # last: bias
    # row 0: no usual gap (one order) is itself the fact; row 1: gap 20 days < median
    # 30 and 0.5x overdue: nothing reads as a risk; row 2: 3x overdue
    x = np.array([[np.nan, 3.0], [20.0, 0.5], [40.0, 3.0]])
    refs = np.array([[30.0, np.nan], [30.0, 40.0], [30.0, 13.0]])
    impacts = np.array([[0.1], [0.1], [0.1]])
    table = select_reasons(
        impacts, contrib, x, refs, fmap, np.zeros(3, dtype=bool), 1, 0.0, protective=False
    )
    assert table.feature[:, 0].tolist() == [0, -1, 1]
    assert table.family[:, 0].tolist() == [0, -1, 0]


def test_equal_value_and_reference_is_no_reason():
    fmap = family_map(("orders_90d", "cancel_rate_365d"))
    contrib = np.array([[0.3, 0.2, 0.0]])
    x = np.array([[1.0, 0.0]])
    refs = np.array([[1.0, 0.0]])  # "1 order (active customers: 1)", "Cancelled 0.0%"
    table = select_reasons(
        np.array([[0.1, 0.05]]), contrib, x, refs, fmap, np.zeros(1, bool), 2, 0.0, False
    )
    assert (table.family == -1).all()


def test_a_skipped_family_makes_room_for_the_next():
    fmap = family_map(("days_since_last_order", "orders_90d", "tenure_days"))
    contrib = np.array([[0.3, 0.2, 0.1, 0.0]])
    x = np.array([[100.0, 1.0, 10.0]])
    refs = np.array([[37.0, 1.0, 72.0]])
    table = select_reasons(
        np.array([[0.1, 0.08, 0.02]]), contrib, x, refs, fmap, np.zeros(1, bool), 2, 0.0, False
    )
    assert table.family[0].tolist() == [0, 2]  # FREQUENCY (1 vs 1) skipped, TENURE next


def test_one_order_customer_has_no_usual_gap_reference():
    frame = pd.DataFrame(
        {
            "days_since_last_order": [300.0, 60.0],
            "overdue_ratio": [300.0 / 90.0, 2.0],
            "gap_mean_days": [np.nan, 30.0],
            "orders_lifetime": [1.0, 3.0],
        }
    )
    refs = reference_matrix(frame, ("overdue_ratio",), {})
    assert np.isnan(refs[0, 0])  # not the assumed single_order_gap_days
    assert refs[1, 0] == 30.0


def _eligible_one_feature_at_a_time(x, refs, names, sign):
    """The definition of :func:`eligible`, written feature by feature (the oracle)."""
    from features.wording import MISSING_IS_RISK, NEUTRAL, RISKY
    from scoring.reasons import _SHOWN_DECIMALS

    out = np.zeros(x.shape, dtype=bool)
    for j, name in enumerate(names):
        feature = BY_NAME[name]
        if feature.reference == "population":
            point = refs[:, j]
        else:
            point = np.full(len(x), NEUTRAL.get(name, np.nan))
        places = _SHOWN_DECIMALS.get(feature.unit, 3)
        with np.errstate(invalid="ignore"):
            diff = np.round(x[:, j], places) - np.round(point, places)
            out[:, j] = sign * RISKY[name] * diff > 0
        if sign > 0 and name in MISSING_IS_RISK:
            out[:, j] |= np.isnan(x[:, j])
        if sign > 0 and name == "overdue_ratio":
            out[:, j] |= ~np.isnan(x[:, j]) & np.isnan(refs[:, j])
    return out


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_eligible_equals_its_definition_feature_by_feature(model: ChurnModel, snapshot, sign):
    names = model.feature_names
    x = model.matrix(snapshot)
    refs = reference_matrix(snapshot, names, resolve_reference(model.reference, snapshot, names))
    rng = np.random.default_rng(0)
    # values on the rounding edges, equal to the reference as shown, and missing
    x = np.where(rng.random(x.shape) < 0.2, np.round(refs, 1) + 0.0004, x)
    x = np.where(rng.random(x.shape) < 0.1, np.nan, x)
    refs = np.where(rng.random(refs.shape) < 0.1, np.nan, refs)
    got = eligible(x, refs, names, sign)
    np.testing.assert_array_equal(got, _eligible_one_feature_at_a_time(x, refs, names, sign))
    assert got.any() and not got.all()
