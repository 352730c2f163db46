"""Window edges pinned: fixture lines exactly on every edge, expected values by hand.

Cutoff T = 2024-07-01 00:00, horizon H = 90 days, lookback 365 days
(tests/fixtures/features/edges.csv). A window "the last N days" is ``[T - N days, T)``,
"the 90 days before" is ``[T - 180 days, T - 90 days)``, the label window is
``[T, T + H)``; times are compared in whole seconds (sub-second parts truncated).

Customer W has one completed order exactly on each edge and one a second outside it
(ages in days, amounts are powers of two so every sum names exactly the lines in it):

====  ===============  ======  ========  ===============================================
line  age              amount  category  windows it belongs to
====  ===============  ======  ========  ===============================================
W-1   30               1       X         30, 90, 180, 365
W-2   30 + 1 s         2       X         90, 180, 365
W-3   90               4       X         90, 180, 365 (not "the 90 days before")
W-4   90 + 1 s         8       Y         180, 365, the 90 days before
W-5   180              16      Y         180, 365, the 90 days before
W-6   180 + 1 s        32      Z         365
W-7   365              64      Z         365 (and the lookback)
W-8   365 + 1 s        128     Z         lifetime only
W-9   0 (exactly T)    256     X         label window only
W-R1  90, returned     -0.5              returned value in the last 90 days
W-R2  90 + 1 s, ret.   -0.25             returned value in the 90 days before
W-C1  365, cancelled   -0.125            cancelled order in the last 365 days
W-C2  365 + 1 s, canc. -1000             nothing
====  ===============  ======  ========  ===============================================

Population and label edges: L's only order is exactly T - 365 days (in the
population), M's is one second earlier (lapsed: batch drops it, online keeps it).
F1 orders again at T + H - 1 s (label 0), F2 at exactly T + H (label 1), F3's only
later lines are returned/cancelled (label 1). S has sub-second times:
T - 30 days + 0.5 s (truncated onto the 30-day edge, inside), T - 90 days - 0.5 s
(truncated to T - 90 days - 1 s: the 90 days before) and T + H - 0.5 s (label 0).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pandas as pd
import pytest

from config.features import FeatureParams, ValueTiers
from features.catalog import ORDER_FEATURE_NAMES as FEATURE_NAMES
from features.engines import DuckDBEngine
from features.online import build_online

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "features" / "edges.csv"
T = pd.Timestamp("2024-07-01")
DAY = 86400
SECOND = 1 / DAY  # one second, in days

PARAMS = FeatureParams(
    horizon_days=90,
    lookback_days=365,
    single_order_gap_days=90.0,
    min_usual_gap_days=1.0,
    regular_category_min_orders=2,
    # spend_365d of W is 127: exactly the medium threshold
    value_tiers=ValueTiers(medium=127.0, high=255.0),
)

# W's order ages in seconds, oldest first: 365d+1s, 365d, 180d+1s, 180d, 90d+1s, 90d, 30d+1s, 30d
W_GAPS_S = [1, 185 * DAY - 1, 1, 90 * DAY - 1, 1, 60 * DAY - 1, 1]
W_GAP_MEAN = (335 + SECOND) / 7  # sum of the gaps = (365d + 1 s) - 30d
W: dict[str, float] = {
    "days_since_last_order": 30.0,
    "orders_30d": 1,
    "orders_90d": 3,
    "orders_180d": 5,
    "orders_365d": 7,
    "orders_lifetime": 8,
    "orders_trend_90d": 3 / 2 - 1,  # W-1..W-3 vs W-4, W-5
    "spend_30d": 1.0,
    "spend_90d": 1.0 + 2 + 4,
    "spend_180d": 31.0,
    "spend_365d": 127.0,
    "spend_lifetime": 255.0,  # W-9 at exactly T is not in it
    "spend_trend_90d": 7 / 24 - 1,
    "aov_lifetime": 255 / 8,
    "aov_trend_90d": (7 / 3) / (24 / 2) - 1,
    "gap_mean_days": W_GAP_MEAN,
    "gap_std_days": statistics.pstdev(W_GAPS_S) / DAY,
    "overdue_ratio": 30.0 / W_GAP_MEAN,
    "overdue_days": 30.0 - W_GAP_MEAN,
    "gap_cv": statistics.pstdev(W_GAPS_S) / DAY / W_GAP_MEAN,
    "products_90d": 3,  # P1, P2, P3
    "products_365d": 7,  # P1..P7
    "categories_90d": 1,  # X
    "categories_365d": 3,  # X, Y, Z (Z via W-6, W-7)
    # last 90 days: all X; the 90 days before: all Y -> disjoint mixes
    "category_shift_90d": 1.0,
    # regular (>= 2 orders in [T-365d, T-90d)): Y (W-4, W-5), Z (W-6, W-7); neither recent
    "regular_categories_missed_90d": 2,
    "return_rate_365d": (0.5 + 0.25 + 0.125) / 127,
    "cancel_rate_365d": 1 / (7 + 1),
    "return_rate_trend_90d": 0.5 / 7 - 0.25 / 24,
    "tenure_days": 365 + SECOND,
    "value_tier": 1,
}

# Other customers: the features their edge decides (plus the label).
OTHERS: dict[str, dict[str, float]] = {
    "L": {
        "days_since_last_order": 365.0,
        "orders_365d": 1,
        "orders_180d": 0,
        "spend_365d": 10.0,
        "tenure_days": 365.0,
        "label": 1,
    },
    "F1": {"days_since_last_order": 1.0, "orders_30d": 1, "spend_lifetime": 10.0, "label": 0},
    "F2": {"days_since_last_order": 1.0, "orders_30d": 1, "spend_lifetime": 10.0, "label": 1},
    "F3": {"days_since_last_order": SECOND, "orders_30d": 1, "spend_30d": 10.0, "label": 1},
    "S": {
        "days_since_last_order": 30.0,
        "orders_30d": 1,
        "orders_90d": 1,
        "orders_trend_90d": 1 / 1 - 1,
        "spend_30d": 1.0,
        "spend_90d": 1.0,
        "spend_trend_90d": 1 / 2 - 1,
        "tenure_days": 90 + SECOND,
        "label": 0,
    },
}
M_ONLINE = {"days_since_last_order": 365 + SECOND, "orders_365d": 0, "orders_lifetime": 1}


def _orders() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE, dtype={"customer_id": str})
    frame["order_ts"] = pd.to_datetime(frame["order_ts"], format="ISO8601")
    return frame


def _check(row: pd.Series, expected: dict[str, float]) -> None:
    for name, want in expected.items():
        got = row[name]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (
            f"{row['customer_id']}.{name}: expected {want}, got {got}"
        )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("edges") / "orders.parquet"
    _orders().to_parquet(path, index=False)
    engine = DuckDBEngine(path, PARAMS)
    try:
        return engine.features([T], labelled=True).set_index("customer_id", drop=False)
    finally:
        engine.close()


def test_fixture_lines_sit_on_the_documented_edges() -> None:
    """The fixture itself: ages computed here with pandas, independently of the code."""
    frame = _orders().set_index("order_id")
    age = (T - frame["order_ts"]).dt.total_seconds()
    for order_id, days, extra in [
        ("W-1", 30, 0),
        ("W-2", 30, 1),
        ("W-3", 90, 0),
        ("W-4", 90, 1),
        ("W-5", 180, 0),
        ("W-6", 180, 1),
        ("W-7", 365, 0),
        ("W-8", 365, 1),
        ("W-9", 0, 0),
        ("L-1", 365, 0),
        ("M-1", 365, 1),
        ("F1-2", -90, 1),
        ("F2-2", -90, 0),
        ("S-1", 30, -0.5),
        ("S-2", 90, 0.5),
    ]:
        assert age[order_id] == days * DAY + extra, order_id


def test_every_feature_of_w_is_pinned() -> None:
    assert set(W) == set(FEATURE_NAMES)


def test_batch_population_keeps_the_lookback_edge_and_drops_one_second_earlier(
    batch: pd.DataFrame,
) -> None:
    assert sorted(batch["customer_id"]) == ["F1", "F2", "F3", "L", "S", "W"]


def test_batch_window_edges(batch: pd.DataFrame) -> None:
    _check(batch.loc["W"], {**W, "label": 0})  # W-9 at exactly T is in [T, T+H)


@pytest.mark.parametrize("customer", sorted(OTHERS))
def test_batch_population_label_and_subsecond_edges(batch: pd.DataFrame, customer: str) -> None:
    _check(batch.loc[customer], OTHERS[customer])


def test_online_window_edges_match_the_hand_values() -> None:
    frame = build_online(_orders(), T, PARAMS).set_index("customer_id", drop=False)
    assert sorted(frame["customer_id"]) == ["F1", "F2", "F3", "L", "M", "S", "W"]
    _check(frame.loc["W"], W)
    for customer, expected in OTHERS.items():
        _check(frame.loc[customer], {k: v for k, v in expected.items() if k != "label"})
    _check(frame.loc["M"], M_ONLINE)
    assert math.isnan(frame.loc["M", "gap_mean_days"])
