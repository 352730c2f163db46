"""The in-process online path equals the batch engine on random order histories.

:func:`features.build_online` evaluates the feature definitions with numpy
(:mod:`features.inprocess`); the batch engine runs the Ibis expression compiled to DuckDB
SQL (:func:`features.engines.run_sql`). For random histories of a few customers (lines
sharing orders and seconds, every status, amounts on half-micro rounding edges, missing
product ids and categories, timestamps exactly on the window edges, sub-second parts,
long gaps), both must return the same frame, bit for bit. A catalog feature the
in-process path does not compute fails :func:`test_every_catalog_feature_is_in_process`.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.features import FeatureParams, ValueTiers
from features import build_online
from features.catalog import ORDER_FEATURE_NAMES, feature_names
from features.engines import compiled_sql, run_sql
from features.expressions import ORDERS_TABLE
from features.inprocess import COMPUTED
from ingest.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from tests.hypothesis_profiles import examples

PARAMS = FeatureParams(
    horizon_days=30,
    lookback_days=120,
    regular_category_min_orders=2,
    value_tiers=ValueTiers(medium=100.0, high=400.0),
)
T = pd.Timestamp("2024-06-01 12:00:00")
DAY = 86400
# window edges in seconds before T (each feature window, and one second either side)
EDGES = [d * DAY + k for d in (30, 90, 180, 365) for k in (-1, 0, 1)]
# every optional column a feature reads (``owner`` routes alerts, it is no feature input)
ALL_COLUMNS = frozenset(OPTIONAL_COLUMNS) - {"owner"}


def seconds_before() -> st.SearchStrategy[int]:
    """Seconds before ``T``: on an edge, anywhere in 2 years, or after ``T`` (ignored)."""
    return st.one_of(
        st.sampled_from(EDGES),
        st.integers(1, 2 * 365 * DAY),
        st.integers(-40 * DAY, 0),  # at or after T: must change nothing
        st.just(6 * 365 * DAY),  # very long gaps
    )


line = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["a", "b", "c"]),
        "order_id": st.sampled_from([f"o{i}" for i in range(10)]),
        "before_s": seconds_before(),
        "micros": st.integers(0, 999_999),
        "amount": st.one_of(
            st.integers(-50_00, 500_00).map(lambda cents: cents / 100),
            st.sampled_from([0.0000005, 1.0000005, -2.5000005, 1e-7, 12345.6789015]),
        ),
        "status": st.sampled_from(["completed", "completed", "completed", "returned", "cancelled"]),
        "quantity": st.integers(-3, 5).map(float),
        "product_id": st.one_of(st.none(), st.sampled_from(["p1", "p2", "p3"])),
        "category": st.one_of(st.none(), st.sampled_from(["x", "y", "z"])),
    }
)


def _frame(lines: list[dict[str, object]], columns: frozenset[str]) -> pd.DataFrame:
    """Canonical order lines from drawn ``lines`` (only the optional ``columns``)."""
    frame = pd.DataFrame(lines)
    frame["order_ts"] = (
        T
        - pd.to_timedelta(frame.pop("before_s"), unit="s")
        + pd.to_timedelta(frame.pop("micros"), unit="us")
    ).astype("datetime64[us]")
    keep = [
        c
        for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if c in REQUIRED_COLUMNS or (c in columns and c in ALL_COLUMNS)
    ]
    return frame[keep]


def batch_features(frame: pd.DataFrame, columns: frozenset[str]) -> pd.DataFrame:
    """The batch engine's query (every customer with a completed order before T)."""
    con = duckdb.connect()
    try:
        con.register(ORDERS_TABLE, pa.Table.from_pandas(frame, preserve_index=False))
        sql = compiled_sql(PARAMS, columns, labelled=False, population_only=False)
        return run_sql(con, sql, [T], columns, labelled=False)
    finally:
        con.close()


def _check(lines: list[dict[str, object]], columns: frozenset[str]) -> None:
    frame = _frame(lines, columns)
    want = batch_features(frame, frozenset(frame.columns))
    got = build_online(frame, T, PARAMS, columns=frame.columns)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=examples(100), suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=40))
def test_online_equals_batch_on_random_histories(lines: list[dict[str, object]]) -> None:
    _check(lines, ALL_COLUMNS)


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(line, min_size=1, max_size=25),
    st.sampled_from([frozenset(), frozenset({"product_id"}), frozenset({"category"})]),
)
def test_online_equals_batch_without_optional_columns(
    lines: list[dict[str, object]], columns: frozenset[str]
) -> None:
    _check(lines, columns)


def test_every_catalog_feature_is_in_process() -> None:
    """An order feature added to the catalog and the Ibis expressions must be added to
    :mod:`features.inprocess` too (until then the online path falls back to DuckDB).
    Signal-table features (issue 14) are computed online by the DuckDB path."""
    missing = set(ORDER_FEATURE_NAMES) - COMPUTED
    assert not missing, sorted(missing)


def test_the_in_process_path_is_the_one_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the full catalog computed in-process, DuckDB is never opened per request."""
    import features.online as online

    def no_session(*args: object) -> None:
        raise AssertionError("online features went through DuckDB")

    monkeypatch.setattr(online, "_session", no_session)
    frame = _frame(
        [{"customer_id": "a", "order_id": "o1", "before_s": DAY, "micros": 0, "amount": 5.0,
          "status": "completed", "quantity": 1.0, "product_id": "p1", "category": "x"}],
        ALL_COLUMNS,
    )  # fmt: skip
    got = build_online(frame, T, PARAMS)
    assert list(got.columns) == ["customer_id", "cutoff", *feature_names(ALL_COLUMNS)]
    assert got["days_since_last_order"].iloc[0] == pytest.approx(1.0 - 0.0)


def test_sums_past_int64_stay_exact_online() -> None:
    """9,300 lines at the ingest cap (1e9, ``data.max_abs_amount``) sum to 9.3e18 micros,
    past int64: the batch engine sums in 128 bits, and the in-process path must not wrap
    (it did: ``spend_30d`` came out -9.1e12)."""
    n = 9_300
    big = [
        {"customer_id": "a", "order_id": f"o{i}", "before_s": DAY + i, "micros": 0,
         "amount": 1e9, "status": "completed", "quantity": 1.0,
         "product_id": f"p{i % 3}", "category": "xy"[i % 2]}
        for i in range(n)
    ]  # fmt: skip
    small = {"customer_id": "b", "order_id": "b1", "before_s": 2 * DAY, "micros": 0,
             "amount": 7.5, "status": "completed", "quantity": 1.0, "product_id": "p1",
             "category": "x"}  # fmt: skip
    frame = _frame([*big, small], ALL_COLUMNS)
    got = build_online(frame, T, PARAMS, columns=frame.columns)
    want = batch_features(frame, frozenset(frame.columns))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    a = got.set_index("customer_id").loc["a"]
    assert a["spend_30d"] == a["spend_lifetime"] == n * 1e9
    assert a["aov_lifetime"] == 1e9


# One order ~31 years before T (inside the default data.min_date) and 30 in the last
# year: n * S2 - S1^2 passes 2^64, where the old split cast lost the last bit.
OLD_AND_RECENT = [976142729, 31300710, 30945566, 29363057, 27328973, 26824323, 26774257,
                  23708267, 20239552, 20008067, 19717157, 18497460, 18369069, 18361996,
                  18128910, 17043660, 16417741, 14931355, 12915140, 11165255, 10739251,
                  10638327, 10114876, 9767383, 9652177, 6818323, 4187953, 3659375, 3074663,
                  3060700, 2699314]  # fmt: skip
CENTURY_GAP = [100 * 365 * DAY, 2 * DAY, DAY]  # a squared gap past int64 (min_date 1900)


@pytest.mark.parametrize("ages", [OLD_AND_RECENT, CENTURY_GAP], ids=["old_and_recent", "century"])
def test_gap_spread_past_int64_is_exact_on_both_paths(ages: list[int]) -> None:
    """Gap sums past int64 neither crash the batch query nor wrap online, and both round
    ``n * S2 - S1^2`` to the nearest double (DuckDB's and Spark's decimal cast)."""
    import numpy as np

    frame = _frame(
        [{"customer_id": "a", "order_id": f"o{i}", "before_s": s, "micros": 0, "amount": 10.0,
          "status": "completed", "quantity": 1.0, "product_id": "p1", "category": "x"}
         for i, s in enumerate(ages)],
        ALL_COLUMNS,
    )  # fmt: skip
    got = build_online(frame, T, PARAMS, columns=frame.columns)
    want = batch_features(frame, frozenset(frame.columns))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    gaps = -np.diff(np.array(sorted(ages, reverse=True), dtype=np.float64))
    assert got.gap_std_days.iloc[0] == pytest.approx(gaps.std() / DAY, rel=1e-12)
