"""Leakage and label properties over several cutoffs per example, batch and online.

For random histories and 2-3 cutoffs per example (some not at midnight, some with
sub-second parts; times are compared in whole seconds, so a cutoff ``c`` acts as
``floor(c)``), with lines piled onto every window edge of every cutoff (+-1 s,
+-0.5 s):

- **batch**: one run over all the cutoffs gives, at each cutoff, exactly the features of
  a single-cutoff run on the lines strictly before it (so no row at or after ``T``
  leaks, and no window is partitioned by customer instead of (customer, cutoff));
- the population and the label equal an independent pandas computation
  (the last completed order, timed by its earliest line, in ``[T - lookback, T)``; a
  completed line in ``[T, T + H)``);
- **online** (:func:`features.online.build_online`): the same features for the
  population, whatever lies after ``as_of``, and with the order times and ``as_of``
  given in other time zones.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from config.features import FeatureParams, ValueTiers
from features.engines import compiled_sql, run_sql
from features.expressions import ORDERS_TABLE
from features.online import build_online
from tests.hypothesis_profiles import examples

PARAMS = FeatureParams(
    horizon_days=30,
    lookback_days=120,
    regular_category_min_orders=2,
    value_tiers=ValueTiers(medium=100.0, high=400.0),
)
COLUMNS = frozenset({"quantity", "product_id", "category"})
BASE = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)
SECOND = pd.Timedelta(seconds=1)
HORIZON = PARAMS.horizon_days * DAY
LOOKBACK = PARAMS.lookback_days * DAY
CUSTOMERS = ("a", "b", "c", "d")
STATUSES = ("completed", "completed", "completed", "returned", "cancelled")
FIELDS = ("customer_id", "order_id", "order_ts", "amount", "status")
FIELDS += ("quantity", "product_id", "category")
EDGE_DAYS = (-30, -1, 0, 30, 90, 120, 180, 365)  # days before the cutoff (-30: T + H)
JITTER = (
    pd.Timedelta(0),
    SECOND,
    -SECOND,
    pd.Timedelta(milliseconds=500),
    -pd.Timedelta(milliseconds=500),
    pd.Timedelta(hours=12),
)

cutoff_st = st.builds(
    lambda day, sec, micro: BASE + pd.Timedelta(days=day, seconds=sec, microseconds=micro),
    st.sampled_from([200, 201, 215, 229, 230, 260, 290, 380]),
    st.sampled_from([0, 0, 1, 43_200, 86_399]),
    st.sampled_from([0, 0, 1, 500_000, 999_999]),
)


def floor_s(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.floor("s")


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[pd.Timestamp], pd.DataFrame]:
    """2-3 cutoffs (distinct whole seconds) and lines around their window edges."""
    cutoffs = draw(st.lists(cutoff_st, min_size=2, max_size=3, unique_by=floor_s))
    anchor = st.builds(
        lambda c, d, j: floor_s(c) - d * DAY + j,
        st.sampled_from(cutoffs),
        st.sampled_from(EDGE_DAYS),
        st.sampled_from(JITTER),
    )
    anywhere = st.builds(lambda h: BASE + pd.Timedelta(hours=h), st.integers(0, 420 * 24))
    n = draw(st.integers(6, 30))
    rows = []
    for i in range(n):
        customer = draw(st.sampled_from(CUSTOMERS))
        rows.append(
            {
                "customer_id": customer,
                "order_id": f"{customer}-{draw(st.integers(0, 9))}"
                if i % 3
                else f"{customer}-u{i}",
                "order_ts": draw(anchor | anywhere),
                "amount": draw(st.integers(-50_00, 300_00)) / 100,
                "status": draw(st.sampled_from(STATUSES)),
                "quantity": float(draw(st.integers(-3, 5))),
                "product_id": draw(st.sampled_from(["p1", "p2", "p3"])),
                "category": draw(st.sampled_from(["x", "y", "z"])),
            }
        )
    frame = pd.DataFrame(rows, columns=list(FIELDS))
    frame = frame.astype({"order_ts": "datetime64[us]", "amount": "float64"})
    return sorted(cutoffs), frame


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def batch(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, cutoffs: list[pd.Timestamp]
) -> pd.DataFrame:
    sql = compiled_sql(PARAMS, COLUMNS, labelled=True, population_only=True)
    con.register(ORDERS_TABLE, frame)
    try:
        return run_sql(con, sql, cutoffs, COLUMNS, labelled=True)
    finally:
        con.unregister(ORDERS_TABLE)


def expected_population(frame: pd.DataFrame, t: pd.Timestamp) -> list[str]:
    """Customers whose last completed *order* before ``t`` lies in ``[t - lookback, t)``;
    an order's time is its earliest completed line (docs/FEATURES.md)."""
    done = frame[frame["status"] == "completed"].assign(ts=frame["order_ts"].dt.floor("s"))
    order_ts = done.groupby(["customer_id", "order_id"])["ts"].min()
    before = order_ts[order_ts < t]
    last = before.groupby(level="customer_id").max()
    return sorted(last[last >= t - LOOKBACK].index)


def expected_labels(frame: pd.DataFrame, t: pd.Timestamp, customers: list[str]) -> list[int]:
    ts = frame["order_ts"].dt.floor("s")
    done = frame["status"] == "completed"
    future = set(frame.loc[done & (ts >= t) & (ts < t + HORIZON), "customer_id"])
    return [0 if c in future else 1 for c in customers]


SETTINGS = settings(
    max_examples=examples(12),
    # no shrinking: each example runs several queries, and shrinking takes minutes
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(case=scenario())
def test_batch_over_several_cutoffs_sees_only_the_past(
    con: duckdb.DuckDBPyConnection, case: tuple[list[pd.Timestamp], pd.DataFrame]
) -> None:
    cutoffs, frame = case
    together = batch(con, frame, cutoffs)
    assert set(together["cutoff"]) <= {floor_s(c) for c in cutoffs}
    for c in cutoffs:
        t = floor_s(c)
        at_t = together[together["cutoff"] == t].reset_index(drop=True)
        customers = at_t["customer_id"].tolist()
        assert customers == expected_population(frame, t)
        assert at_t["label"].tolist() == expected_labels(frame, t, customers)
        past = frame[frame["order_ts"] < t].reset_index(drop=True)
        alone = batch(con, past, [c])
        features = [col for col in alone.columns if col != "label"]
        pd.testing.assert_frame_equal(at_t[features], alone[features], check_exact=True)


@SETTINGS
@given(case=scenario(), zone=st.sampled_from(["UTC", "Asia/Kolkata", "America/St_Johns"]))
def test_online_features_equal_batch_and_ignore_the_future(
    con: duckdb.DuckDBPyConnection, case: tuple[list[pd.Timestamp], pd.DataFrame], zone: str
) -> None:
    cutoffs, frame = case
    together = batch(con, frame, cutoffs)
    features = [col for col in together.columns if col != "label"]
    local = frame.assign(order_ts=frame["order_ts"].dt.tz_localize("UTC").dt.tz_convert(zone))
    for c in cutoffs:
        t = floor_s(c)
        online = build_online(frame, c, PARAMS, columns=COLUMNS)
        assert (online["cutoff"] == t).all()
        # only the past, with order times and as_of in another zone: the same rows
        past = local[frame["order_ts"] < t]
        zoned = build_online(past, c.tz_localize("UTC").tz_convert(zone), PARAMS, columns=COLUMNS)
        pd.testing.assert_frame_equal(online, zoned, check_exact=True)
        at_t = together[together["cutoff"] == t].reset_index(drop=True)
        in_population = online[online["customer_id"].isin(at_t["customer_id"])]
        pd.testing.assert_frame_equal(
            in_population.reset_index(drop=True), at_t[features], check_exact=True
        )
