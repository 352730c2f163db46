"""Leakage guard as a property test.

For random order histories and cutoffs ``T``: adding, deleting or changing any line at or
after ``T`` never changes a feature at ``T`` (nor who is in the population); changing
lines in ``[T, T+H)`` can change only the label; changes at or after ``T+H`` change
nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.features import FeatureParams, ValueTiers
from features.engines import compiled_sql, run_sql
from features.expressions import ORDERS_TABLE
from tests.hypothesis_profiles import examples

PARAMS = FeatureParams(
    horizon_days=30,
    lookback_days=120,
    regular_category_min_orders=2,
    value_tiers=ValueTiers(medium=100.0, high=400.0),
)
COLUMNS = frozenset({"quantity", "product_id", "category"})
BASE = pd.Timestamp("2024-01-01")
DAY = 86400
CUSTOMERS = ("a", "b", "c")
CUTOFF_DAY = 200  # T = BASE + 200 days; history lies in the 160 days before
T = BASE + pd.Timedelta(days=CUTOFF_DAY)
T_S = CUTOFF_DAY * DAY
H_S = PARAMS.horizon_days * DAY
STATUSES = ("completed", "completed", "completed", "returned", "cancelled")

LINE_FIELDS = ("customer_id", "order_id", "amount", "status", "quantity", "product_id", "category")
line = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(CUSTOMERS),
        "order_id": st.sampled_from([f"o{i}" for i in range(8)]),
        "amount": st.integers(-50_00, 300_00).map(lambda cents: cents / 100),
        "status": st.sampled_from(STATUSES),
        "quantity": st.integers(-3, 5).map(float),
        "product_id": st.sampled_from(["p1", "p2", "p3", "p4"]),
        "category": st.sampled_from(["x", "y", "z"]),
    }
)


def seconds_in(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Offsets (s from BASE) in ``[lo, hi)``, uniform on an hourly grid plus ``lo`` itself.

    ``st.integers`` piles examples onto ``lo``; a grid spreads them over the range.
    """
    return st.one_of(st.just(lo), st.sampled_from(range(lo, hi, 3600)))


def seconds_before_cutoff() -> st.SearchStrategy[int]:
    """Offsets before ``T``, hitting window edges (T - N days, +-1 s) often."""
    days = st.sampled_from(range(1, 160))
    jitter = st.sampled_from([0, 1, -1, 43_200])
    return st.builds(lambda d, j: T_S - d * DAY + j, days, jitter)


@st.composite
def lines_at(
    draw: st.DrawFn, offsets: st.SearchStrategy[int], min_size: int, max_size: int
) -> list[dict[str, object]]:
    """Lines whose ``order_ts`` is ``BASE`` + a drawn offset (seconds)."""
    rows = draw(st.lists(line, min_size=min_size, max_size=max_size))
    return [
        {
            **row,
            "order_ts": BASE + pd.Timedelta(seconds=draw(offsets)),
            "order_id": f"{row['customer_id']}-{row['order_id']}",
        }
        for row in rows
    ]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def features_at(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, object]], cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Labelled features at ``cutoff`` through the batch SQL, on one reused connection."""
    frame = pd.DataFrame(rows, columns=["order_ts", *LINE_FIELDS])
    frame = frame.astype({"order_ts": "datetime64[us]", "amount": "float64", "quantity": "float64"})
    sql = compiled_sql(PARAMS, COLUMNS, labelled=True, population_only=True)
    con.register(ORDERS_TABLE, frame)
    try:
        return run_sql(con, sql, [cutoff], COLUMNS, labelled=True)
    finally:
        con.unregister(ORDERS_TABLE)


def mutate(
    draw: st.DrawFn, rows: list[dict[str, object]], lo: int, hi: int
) -> list[dict[str, object]]:
    """Delete, change and add lines whose ``order_ts`` lies in ``[lo, hi)`` seconds."""
    in_range = [
        i
        for i, r in enumerate(rows)
        if lo <= (r["order_ts"] - BASE).total_seconds() < hi  # type: ignore[operator]
    ]
    drop = set(draw(st.lists(st.sampled_from(in_range), unique=True))) if in_range else set()
    out = [dict(r) for i, r in enumerate(rows) if i not in drop]
    for r in out:
        offset = (r["order_ts"] - BASE).total_seconds()  # type: ignore[operator]
        if lo <= offset < hi and draw(st.booleans()):
            changed = draw(line)
            new_ts = BASE + pd.Timedelta(seconds=draw(seconds_in(lo, hi)))
            r.update({**changed, "order_id": r["order_id"], "order_ts": new_ts})
    return out + draw(lines_at(seconds_in(lo, hi), min_size=1, max_size=6))


@st.composite
def histories(draw: st.DrawFn, lo: int, hi: int) -> tuple[list, list]:
    """A history around ``T`` and the same history mutated in ``[lo, hi)``."""
    before = draw(lines_at(seconds_before_cutoff(), min_size=5, max_size=25))
    after = draw(lines_at(seconds_in(T_S, T_S + 2 * H_S), min_size=0, max_size=10))
    rows = before + after
    return rows, mutate(draw, rows, lo, hi)


SETTINGS = settings(
    max_examples=examples(40),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(pair=histories(T_S, T_S + 2 * H_S))
def test_rows_at_or_after_cutoff_never_change_features(
    con: duckdb.DuckDBPyConnection, pair: tuple[list, list]
) -> None:
    original, mutated = pair
    a, b = features_at(con, original, T), features_at(con, mutated, T)
    features = [c for c in a.columns if c != "label"]
    pd.testing.assert_frame_equal(a[features], b[features], check_exact=True)


@SETTINGS
@given(pair=histories(T_S, T_S + H_S))
def test_rows_in_label_window_change_only_the_label(
    con: duckdb.DuckDBPyConnection, pair: tuple[list, list]
) -> None:
    original, mutated = pair
    a, b = features_at(con, original, T), features_at(con, mutated, T)
    features = [c for c in a.columns if c != "label"]
    pd.testing.assert_frame_equal(a[features], b[features], check_exact=True)
    for frame, rows in ((a, original), (b, mutated)):
        future = {
            r["customer_id"]
            for r in rows
            if r["status"] == "completed" and T <= r["order_ts"] < T + pd.Timedelta(seconds=H_S)  # type: ignore[operator]
        }
        expected = [0 if c in future else 1 for c in frame["customer_id"]]
        assert frame["label"].tolist() == expected


@SETTINGS
@given(pair=histories(T_S + H_S, T_S + 2 * H_S))
def test_rows_after_label_window_change_nothing(
    con: duckdb.DuckDBPyConnection, pair: tuple[list, list]
) -> None:
    original, mutated = pair
    pd.testing.assert_frame_equal(
        features_at(con, original, T), features_at(con, mutated, T), check_exact=True
    )
