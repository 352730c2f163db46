"""Hand-checked fixture: every feature's definition pinned on 18 order lines.

Cutoff T = 2024-07-01 00:00. Ages (T - order_ts, days) of the fixture lines:

=====  ==========  ======  =========================================================
cust   order       age     lines
=====  ==========  ======  =========================================================
A      A-1         270     X/P1 100, Y/P2 50 (completed)
A      A-2         160     X/P1 200
A      A-3         120     X/P3 100, Y/P2 100
A      A-C1        100     X/P1 -40 cancelled
A      A-4         60      X/P1 150
A      A-R1        59.5    X/P1 -30 returned
A      A-5         9.5     X/P4 50
A      A-6         0       X/P1 80 at exactly T: label window only
B      B-1         30.25   Z/P5 300 at 18:00 and Z/P6 200 at 18:30 (one order)
C      C-1, C-2    29.58,  X/P1 1200 at 10:00, X/P1 900 at 16:00 (same day);
                   29.33   C-2 has one more line at exactly T (label only)
D      D-1         396     outside the 365-day lookback: not in the population
E      E-C1        10      cancelled only: not in the population
=====  ==========  ======  =========================================================
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from config.features import FeatureParams, ValueTiers
from features.catalog import ORDER_FEATURE_NAMES as FEATURE_NAMES
from features.catalog import feature_names
from features.engines import DuckDBEngine
from features.online import build_online

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "features" / "orders.csv"
T = pd.Timestamp("2024-07-01")
NAN = math.nan

PARAMS = FeatureParams(
    horizon_days=90,
    lookback_days=365,
    single_order_gap_days=90.0,
    min_usual_gap_days=1.0,
    regular_category_min_orders=2,
    value_tiers=ValueTiers(medium=500.0, high=2000.0),
)

# gaps of A: 270-160=110, 160-120=40, 120-60=60, 60-9.5=50.5 -> mean 260.5/4 = 65.125
# squared deviations: 44.875^2 + 25.125^2 + 5.125^2 + 14.625^2 = 2885.1875 -> var 721.296875
A_GAP_MEAN = 260.5 / 4
EXPECTED: dict[str, dict[str, float]] = {
    "A": {
        "days_since_last_order": 9.5,
        "orders_30d": 1,
        "orders_90d": 2,
        "orders_180d": 4,  # + A-2, A-3
        "orders_365d": 5,
        "orders_lifetime": 5,
        "orders_trend_90d": 2 / 2 - 1,  # 2 in (0,90] vs 2 in (90,180]
        "spend_30d": 50.0,
        "spend_90d": 150.0 + 50.0,
        "spend_180d": 200.0 + 200.0 + 150.0 + 50.0,
        "spend_365d": 750.0,
        "spend_lifetime": 750.0,
        "spend_trend_90d": 200 / 400 - 1,
        "aov_lifetime": 750 / 5,
        "aov_trend_90d": (200 / 2) / (400 / 2) - 1,
        "gap_mean_days": A_GAP_MEAN,
        "gap_std_days": math.sqrt(2885.1875 / 4),
        "overdue_ratio": 9.5 / A_GAP_MEAN,
        "overdue_days": 9.5 - A_GAP_MEAN,  # 55.6 days before the usual gap is up
        "gap_cv": math.sqrt(2885.1875 / 4) / A_GAP_MEAN,
        "products_90d": 2,  # P1, P4; the returned P1 line does not count
        "products_365d": 4,  # P1..P4
        "categories_90d": 1,  # X
        "categories_365d": 2,  # X, Y
        # shares last 90d: X 1, Y 0; 90 before: X 300/400, Y 100/400 -> (0.25+0.25)/2
        "category_shift_90d": 0.25,
        # regular in (90,365]: X in 3 orders, Y in 2 (>= 2); Y not bought in last 90d
        "regular_categories_missed_90d": 1,
        "return_rate_365d": (30 + 40) / 750,
        "cancel_rate_365d": 1 / (5 + 1),
        "return_rate_trend_90d": 30 / 200 - 40 / 400,
        "tenure_days": 270.0,
        "value_tier": 1,  # 500 <= 750 < 2000
        "label": 0,  # A-6 at exactly T is inside [T, T+90d)
    },
    "B": {
        "days_since_last_order": 30.25,  # the order's time is its earliest line (18:00)
        "orders_30d": 0,  # 30.25 days is outside [T-30d, T)
        "orders_90d": 1,
        "orders_180d": 1,
        "orders_365d": 1,
        "orders_lifetime": 1,
        "orders_trend_90d": NAN,  # no order in the 90 days before
        "spend_30d": 0.0,
        "spend_90d": 500.0,
        "spend_180d": 500.0,
        "spend_365d": 500.0,
        "spend_lifetime": 500.0,
        "spend_trend_90d": NAN,
        "aov_lifetime": 500.0,
        "aov_trend_90d": NAN,
        "gap_mean_days": NAN,
        "gap_std_days": NAN,
        "overdue_ratio": 30.25 / 90.0,  # single_order_gap_days
        "overdue_days": NAN,  # one order: no usual gap
        "gap_cv": NAN,
        "products_90d": 2,
        "products_365d": 2,
        "categories_90d": 1,
        "categories_365d": 1,
        "category_shift_90d": NAN,
        "regular_categories_missed_90d": 0,
        "return_rate_365d": 0.0,
        "cancel_rate_365d": 0.0,
        "return_rate_trend_90d": NAN,
        "tenure_days": 30.25,
        "value_tier": 1,  # exactly the medium threshold
        "label": 1,
    },
    "C": {
        "days_since_last_order": 29 + 8 / 24,
        "orders_30d": 2,
        "orders_90d": 2,
        "orders_180d": 2,
        "orders_365d": 2,
        "orders_lifetime": 2,
        "orders_trend_90d": NAN,
        "spend_30d": 2100.0,  # the 5000 line at exactly T is excluded
        "spend_90d": 2100.0,
        "spend_180d": 2100.0,
        "spend_365d": 2100.0,
        "spend_lifetime": 2100.0,
        "spend_trend_90d": NAN,
        "aov_lifetime": 1050.0,
        "aov_trend_90d": NAN,
        "gap_mean_days": 0.25,  # 6 hours
        "gap_std_days": NAN,  # one gap
        "overdue_ratio": (29 + 8 / 24) / 1.0,  # usual gap floored at min_usual_gap_days
        "overdue_days": (29 + 8 / 24) - 0.25,  # the real (unfloored) mean gap
        "gap_cv": NAN,  # one gap
        "products_90d": 1,
        "products_365d": 1,
        "categories_90d": 1,
        "categories_365d": 1,
        "category_shift_90d": NAN,
        "regular_categories_missed_90d": 0,
        "return_rate_365d": 0.0,
        "cancel_rate_365d": 0.0,
        "return_rate_trend_90d": NAN,
        "tenure_days": 29 + 14 / 24,
        "value_tier": 2,
        "label": 0,
    },
}


def _orders(drop: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE, parse_dates=["order_ts"], dtype={"customer_id": str})
    return frame.drop(columns=list(drop))


def _batch(tmp_path: Path, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    path = tmp_path / "orders.parquet"
    _orders(drop).to_parquet(path, index=False)
    engine = DuckDBEngine(path, PARAMS)
    try:
        return engine.features([T], labelled=True)
    finally:
        engine.close()


def _assert_row(
    row: pd.Series, expected: dict[str, float], names: list[str], *, labelled: bool = True
) -> None:
    for name in [*names, "label"] if labelled else names:
        want, got = expected[name], row[name]
        if isinstance(want, float) and math.isnan(want):
            assert pd.isna(got), f"{row['customer_id']}.{name}: expected missing, got {got}"
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (
                f"{row['customer_id']}.{name}: expected {want}, got {got}"
            )


def test_every_feature_is_pinned() -> None:
    for expected in EXPECTED.values():
        assert set(expected) == {*FEATURE_NAMES, "label"}


def test_hand_checked_values(tmp_path: Path) -> None:
    frame = _batch(tmp_path)
    assert frame["customer_id"].tolist() == ["A", "B", "C"]  # D lapsed, E never completed
    assert (frame["cutoff"] == T).all()
    names = feature_names({"quantity", "product_id", "category"})
    assert names == list(FEATURE_NAMES)
    for _, row in frame.iterrows():
        _assert_row(row, EXPECTED[row["customer_id"]], names)


def test_missing_category_omits_only_category_features(tmp_path: Path) -> None:
    frame = _batch(tmp_path, drop=("category",))
    names = feature_names({"quantity", "product_id"})
    assert list(frame.columns) == ["customer_id", "cutoff", *names, "label"]
    assert not {"categories_90d", "category_shift_90d"} & set(frame.columns)
    for _, row in frame.iterrows():
        _assert_row(row, EXPECTED[row["customer_id"]], names)


def test_online_matches_hand_checked_values_and_keeps_lapsed_customers() -> None:
    frame = build_online(_orders(), T, PARAMS)
    assert frame["customer_id"].tolist() == ["A", "B", "C", "D"]
    names = list(FEATURE_NAMES)
    assert list(frame.columns) == ["customer_id", "cutoff", *names]
    for _, row in frame[frame.customer_id != "D"].iterrows():
        _assert_row(row, EXPECTED[row["customer_id"]], names, labelled=False)
    lapsed = frame.set_index("customer_id").loc["D"]
    assert lapsed["days_since_last_order"] == 396.0
    assert lapsed["orders_365d"] == 0
