"""The batch plan's shortcuts equal a brute-force computation on random order lines.

The batch query (:mod:`features.expressions`) takes shortcuts: one order table per order
(:mod:`features.order_table`) gives the order counts, cancelled orders, lifetime spend
and the label, re-reading line by line only the orders whose completed lines span more
than one second; the spend, product and category windows read only the last 365 days
of lines. Here, for random lines (orders within one second and orders spread over
several, every status, several cutoffs, times on the window and label edges), the
features those shortcuts feed must equal a plain pandas computation over the lines,
written from the definitions in docs/FEATURES.md, exactly.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.features import FeatureParams, ValueTiers
from features.engines import compiled_sql, run_sql
from features.expressions import ORDERS_TABLE
from ingest.schema import REQUIRED_COLUMNS
from tests.hypothesis_profiles import examples

PARAMS = FeatureParams(
    horizon_days=30,
    lookback_days=400,
    value_tiers=ValueTiers(medium=100.0, high=400.0),
)
DAY = 86400
CUTOFFS = [pd.Timestamp("2024-06-01 12:00:00"), pd.Timestamp("2024-07-16 12:00:00")]
T0 = int(CUTOFFS[0].timestamp())
COLUMNS = frozenset(REQUIRED_COLUMNS) | {"product_id", "category"}
# seconds relative to the first cutoff: the window edges of both cutoffs, one second
# either side, the label edges, and anywhere in two years
GAP = int((CUTOFFS[1] - CUTOFFS[0]).total_seconds())
EDGES = [
    base - d * DAY + k
    for base in (0, GAP)
    for d in (0, 30, 90, 180, 365, PARAMS.lookback_days, -PARAMS.horizon_days)
    for k in (-1, 0, 1)
]
offset = st.one_of(st.sampled_from(EDGES), st.integers(-2 * 365 * DAY, 60 * DAY))
line = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["a", "b", "c"]),
        "order_id": st.sampled_from(["o1", "o2", "o3", "o4", "o5", "o6"]),
        "own_time": st.booleans(),  # False: the order's shared second
        "offset": offset,
        "micros": st.integers(0, 999_999),
        "cents": st.integers(-20_00, 300_00),
        "status": st.sampled_from(["completed", "completed", "returned", "cancelled"]),
        "product_id": st.one_of(st.none(), st.sampled_from(["p1", "p2", "p3"])),
        "category": st.one_of(st.none(), st.sampled_from(["x", "y"])),
    }
)


# random lines of up to 30, and each order's shared second (for lines without their own)
HISTORY = (
    st.lists(line, min_size=1, max_size=30),
    st.fixed_dictionaries({f"o{i}": offset for i in range(1, 7)}),
)


def _frame(lines: list[dict[str, object]], shared: dict[str, int]) -> pd.DataFrame:
    rows = pd.DataFrame(lines)
    seconds = np.where(rows["own_time"], rows["offset"], rows["order_id"].map(shared))
    rows["ts"] = T0 + seconds.astype(np.int64)
    rows["order_ts"] = (
        pd.to_datetime(rows["ts"], unit="s") + pd.to_timedelta(rows["micros"], unit="us")
    ).astype("datetime64[us]")
    rows["amount"] = rows["cents"] / 100
    return rows


def expected(rows: pd.DataFrame) -> pd.DataFrame:
    """The features the order table and the last-year join feed, from the definitions."""
    out = []
    done_all = rows[rows["status"] == "completed"]
    order_time = done_all.groupby(["customer_id", "order_id"])["ts"].min()
    cancel_time = (
        rows[rows["status"] == "cancelled"].groupby(["customer_id", "order_id"])["ts"].min()
    )
    for cutoff in CUTOFFS:
        t = int(cutoff.timestamp())
        for cust in sorted(rows["customer_id"].unique()):
            orders = order_time[order_time.index.get_level_values(0) == cust]
            orders = orders[orders < t]
            if orders.empty or t - orders.max() > PARAMS.lookback_days * DAY:
                continue  # not in the population at t
            lines = done_all[(done_all["customer_id"] == cust) & (done_all["ts"] < t)]
            age = t - lines["ts"]
            cents = lines["cents"]
            cancels = cancel_time[cancel_time.index.get_level_values(0) == cust]
            n_cancel = int(((cancels < t) & (t - cancels <= 365 * DAY)).sum())
            n_365 = int((t - orders <= 365 * DAY).sum())
            future = done_all[
                (done_all["customer_id"] == cust)
                & (done_all["ts"] >= t)
                & (done_all["ts"] < t + PARAMS.horizon_days * DAY)
            ]
            undone = rows[
                (rows["customer_id"] == cust)
                & (rows["status"] != "completed")
                & (rows["ts"] < t)
                & (t - rows["ts"] <= 365 * DAY)
            ]["cents"].abs()
            spend_365 = int(cents[age <= 365 * DAY].sum())
            out.append(
                {
                    "customer_id": cust,
                    "cutoff": cutoff,
                    "orders_lifetime": len(orders),
                    "orders_365d": n_365,
                    "spend_lifetime": float(int(cents.sum()) * 10_000) / 1_000_000,
                    "spend_365d": float(spend_365 * 10_000) / 1_000_000,
                    **_spend_windows(cents, age),
                    "return_rate_365d": (
                        float(int(undone.sum()) * 10_000) / float(spend_365 * 10_000)
                        if spend_365 > 0
                        else np.nan
                    ),
                    "cancel_rate_365d": (
                        n_cancel / (n_365 + n_cancel) if n_365 + n_cancel else np.nan
                    ),
                    "products_90d": lines[age <= 90 * DAY]["product_id"].nunique(),
                    "products_365d": lines[age <= 365 * DAY]["product_id"].nunique(),
                    "categories_90d": lines[age <= 90 * DAY]["category"].nunique(),
                    "categories_365d": lines[age <= 365 * DAY]["category"].nunique(),
                    "label": int(future.empty),
                }
            )
    frame = pd.DataFrame(out, columns=["customer_id", "cutoff", *CHECKED, "label"])
    return frame.astype({"cutoff": "datetime64[us]"})


def _spend_windows(cents: pd.Series, age: pd.Series) -> dict[str, float]:
    """spend_30d/90d/180d and the 90-day trend, from integer micros as the engines sum."""
    micros = {d: int(cents[age <= d * DAY].sum()) * 10_000 for d in (30, 90, 180)}
    prev = int(cents[(age > 90 * DAY) & (age <= 180 * DAY)].sum()) * 10_000
    out = {f"spend_{d}d": float(m) / 1_000_000 for d, m in micros.items()}
    out["spend_trend_90d"] = float(micros[90]) / float(prev) - 1.0 if prev > 0 else np.nan
    return out


CHECKED = [
    "orders_lifetime",
    "orders_365d",
    "spend_lifetime",
    "spend_365d",
    "spend_30d",
    "spend_90d",
    "spend_180d",
    "spend_trend_90d",
    "return_rate_365d",
    "cancel_rate_365d",
    "products_90d",
    "products_365d",
    "categories_90d",
    "categories_365d",
]


def batch(rows: pd.DataFrame, *, population_only: bool = True) -> pd.DataFrame:
    """The batch engine's labelled query over ``rows`` at both cutoffs (every column)."""
    canonical = rows[
        ["customer_id", "order_id", "order_ts", "amount", "status", "product_id", "category"]
    ]
    con = duckdb.connect()
    try:
        con.register(ORDERS_TABLE, pa.Table.from_pandas(canonical, preserve_index=False))
        sql = compiled_sql(PARAMS, COLUMNS, labelled=True, population_only=population_only)
        return run_sql(con, sql, CUTOFFS, COLUMNS, labelled=True)
    finally:
        con.close()


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    """The same dtypes on both sides: the values are compared, exactly."""
    out = frame.reset_index(drop=True).astype({c: "float64" for c in CHECKED})
    return out.astype({"customer_id": object, "cutoff": "datetime64[us]", "label": "int64"})


@settings(max_examples=examples(80), suppress_health_check=[HealthCheck.too_slow])
@given(*HISTORY)
def test_batch_plan_equals_brute_force(
    lines: list[dict[str, object]], shared: dict[str, int]
) -> None:
    rows = _frame(lines, shared)
    got = batch(rows)[["customer_id", "cutoff", *CHECKED, "label"]]
    pd.testing.assert_frame_equal(_normal(got), _normal(expected(rows)), check_exact=True)


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow])
@given(*HISTORY)
def test_population_is_every_customer_cut_to_the_lookback(
    lines: list[dict[str, object]], shared: dict[str, int]
) -> None:
    """The population query equals the query over every customer (the online path's),
    cut to the customers whose last order lies within the lookback: every feature
    (gaps, tenure, lifetime spend, the label included), whatever the population
    filter does to the plan."""
    rows = _frame(lines, shared)
    everyone = batch(rows, population_only=False)
    within = everyone["days_since_last_order"] <= PARAMS.lookback_days
    expected_rows = everyone[within].reset_index(drop=True)
    pd.testing.assert_frame_equal(batch(rows), expected_rows, check_exact=True)


def _completed_lines_of_a(lines: list[dict[str, object]]) -> pd.DataFrame:
    """Completed lines of customer ``a`` at their own times (``offset``, ``cents`` and
    ``order_id`` from ``lines``, order ``o1`` unless given)."""
    base = {"customer_id": "a", "order_id": "o1", "own_time": True, "micros": 0}
    base |= {"status": "completed", "product_id": "p1", "category": "x"}
    return _frame([{**base, **x} for x in lines], {})


def test_an_order_spread_over_seconds_counts_each_line_once() -> None:
    """One order with completed lines on both sides of a cutoff, one inside the label
    window: its lines before T count in the spend, the later one makes the label 0."""
    lines = [
        {"offset": -10 * DAY, "cents": 1000},
        {"offset": -10 * DAY + 5, "cents": 250},  # same order, five seconds later
        {"offset": 3 * DAY, "cents": 700},  # same order, after T, inside [T, T + H)
    ]
    rows = _completed_lines_of_a(lines)
    got = batch(rows)[["customer_id", "cutoff", *CHECKED, "label"]]
    first = got[got["cutoff"] == CUTOFFS[0]].iloc[0]
    assert first["spend_lifetime"] == 12.5
    assert first["orders_lifetime"] == 1
    assert first["label"] == 0
    pd.testing.assert_frame_equal(_normal(got), _normal(expected(rows)), check_exact=True)


def test_spend_windows_on_their_edges() -> None:
    """Lines exactly on every window edge and one second past it, in one-second orders
    and in one order spread over the edges: each lands in the window it belongs to."""
    ages = [d * DAY + k for d in (30, 90, 180, 365) for k in (0, 1)]
    lines = [
        {"order_id": f"o{i}", "offset": -age, "cents": 100 * (i + 1)}
        for i, age in enumerate(ages[:6])
    ]
    lines += [{"order_id": "o7", "offset": -age, "cents": 7 + i} for i, age in enumerate(ages)]
    rows = _completed_lines_of_a(lines)
    got = batch(rows)[["customer_id", "cutoff", *CHECKED, "label"]]
    assert got["spend_trend_90d"].notna().all()
    pd.testing.assert_frame_equal(_normal(got), _normal(expected(rows)), check_exact=True)
