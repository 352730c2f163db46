"""The cutoff schedule and ``data_end``, with dates worked out by hand.

``data_end`` is midnight after the day of the last order; labelled cutoffs are
``data_end - H - k * step`` (so the latest label window ends exactly at ``data_end``:
fully observed, and not a day short); cutoffs before first order day + min history are
skipped.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.features import FeatureParams, ValueTiers
from features.schedule import build_schedule, data_end
from tests.hypothesis_profiles import examples

TIERS = ValueTiers(medium=100.0, high=400.0)
PARAMS = FeatureParams(
    horizon_days=90, cutoff_step_days=30, n_cutoffs=4, min_history_days=60, value_tiers=TIERS
)
D = pd.Timestamp


@pytest.mark.parametrize(
    ("last", "end"),
    [
        ("2011-12-09 12:50:00", "2011-12-10"),
        ("2011-12-09 00:00:00", "2011-12-10"),  # an order at midnight: its day is complete next
        ("2011-12-09 23:59:59.999999", "2011-12-10"),
        ("2011-12-31 23:59:59", "2012-01-01"),
        ("2012-02-28 08:00:00", "2012-02-29"),  # leap year
    ],
)
def test_data_end_is_midnight_after_the_last_order_day(last: str, end: str) -> None:
    assert data_end(D(last)) == D(end)


def test_schedule_dates_by_hand() -> None:
    # data_end 2011-12-10; T_0 = 2011-12-10 - 90 d = 2011-09-11; then 30 days apart
    schedule = build_schedule(D("2010-12-01 08:26"), D("2011-12-09 12:50"), PARAMS)
    assert schedule.latest == D("2011-12-10")
    assert schedule.labelled == (D("2011-06-13"), D("2011-07-13"), D("2011-08-12"), D("2011-09-11"))
    assert schedule.skipped == ()


def test_earliest_cutoff_exactly_at_min_history_is_kept_one_day_earlier_is_skipped() -> None:
    last = D("2011-12-09 12:50")
    # first order day + 60 days == 2011-06-13 (the oldest candidate): kept
    kept = build_schedule(D("2011-04-14 23:59:59"), last, PARAMS)
    assert kept.labelled[0] == D("2011-06-13") and kept.skipped == ()
    # one day later: 2011-06-13 lies one day before the earliest allowed cutoff
    skipped = build_schedule(D("2011-04-15 00:00:00"), last, PARAMS)
    assert skipped.skipped == (D("2011-06-13"),)
    assert skipped.labelled == (D("2011-07-13"), D("2011-08-12"), D("2011-09-11"))


def test_too_short_a_history_is_a_clear_error() -> None:
    # data_end 2011-12-10, T_0 = 2011-09-11 < first day 2011-07-14 + 60 days = 2011-09-12
    # 2011-07-14 .. 2011-12-09 is 149 days; H + min_history_days = 150 are needed
    with pytest.raises(ValueError, match=r"too short to train: 149 days .* at least 150 days"):
        build_schedule(D("2011-07-14"), D("2011-12-09"), PARAMS)
    assert build_schedule(D("2011-07-13"), D("2011-12-09"), PARAMS).labelled == (D("2011-09-11"),)


first_st = st.builds(
    lambda day, us: D("2010-01-01") + pd.Timedelta(days=day, microseconds=us),
    st.integers(0, 200),
    st.integers(0, 86_400_000_000 - 1),
)


@settings(max_examples=examples(100))
@given(
    first=first_st,
    span_us=st.integers(250 * 86_400_000_000, 900 * 86_400_000_000),
    horizon=st.sampled_from([1, 30, 90]),
    step=st.sampled_from([1, 7, 30]),
    n=st.integers(1, 10),
)
def test_every_label_window_is_observed_and_the_latest_ends_at_data_end(
    first: pd.Timestamp, span_us: int, horizon: int, step: int, n: int
) -> None:
    last = first + pd.Timedelta(microseconds=span_us)
    params = PARAMS.model_copy(
        update={"horizon_days": horizon, "cutoff_step_days": step, "n_cutoffs": n}
    )
    schedule = build_schedule(first, last, params)
    end = last.normalize() + pd.Timedelta(days=1)
    assert schedule.latest == end and end > last
    cutoffs = [*schedule.skipped, *schedule.labelled]
    assert sorted(cutoffs) == [end - pd.Timedelta(days=horizon + k * step) for k in range(n)][::-1]
    assert schedule.labelled[-1] + pd.Timedelta(days=horizon) == end
    earliest = first.normalize() + pd.Timedelta(days=params.min_history_days)
    assert all(t >= earliest for t in schedule.labelled)
    assert all(t < earliest for t in schedule.skipped)
    assert all(t == t.normalize() for t in cutoffs)
