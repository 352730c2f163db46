"""Churn population and label (docs/FEATURES.md, "Time discipline and labels").

Population at cutoff ``T``: customers with at least one completed order in
``[T - lookback_days, T)``. Label: 1 when the customer has no completed order in
``[T, T + horizon_days)``, else 0. Only the label looks at rows at or after ``T``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from config.features import FeatureParams

SECONDS_PER_DAY = 86400.0
SECONDS_PER_DAY_INT = 86400
KEYS = ("customer_id", "cutoff")


def epoch_secs(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole epoch seconds (sub-second parts truncated the same way on every engine)."""
    return ts.truncate("s").epoch_seconds().cast("int64")


def in_population(order_aggregates: ir.Table, params: FeatureParams) -> ir.Table:
    """Keep (customer, cutoff) rows whose last completed order is within the lookback.

    ``last_age`` is ``T`` minus the last completed order time, in seconds; the order
    lies in ``[T - lookback, T)`` exactly when ``last_age <= lookback``.
    """
    lookback = params.lookback_days * SECONDS_PER_DAY_INT
    return order_aggregates.filter(order_aggregates.last_age <= lookback)


def future_orders(completed: ir.Table, cutoffs: ir.Table, params: FeatureParams) -> ir.Table:
    """(customer, cutoff) pairs with a completed line in ``[T, T+H)``: ``has_future``.

    ``completed`` holds ``customer_id`` and ``ts`` (whole epoch seconds) of completed
    lines, or any set of times containing one in every range a completed line is in
    (:func:`features.expressions._completed_times`); only whether a row exists counts.
    """
    lead = completed.ts - cutoffs.cutoff_s
    horizon = params.horizon_days * SECONDS_PER_DAY_INT
    j = completed.join(cutoffs, (lead >= 0) & (lead < horizon))
    return j.group_by(list(KEYS)).aggregate(has_future=j.count())


def label_column(has_future: ir.IntegerValue) -> ir.IntegerValue:
    """1 (churned) when the left join found no future order, else 0."""
    return ibis.ifelse(has_future.isnull(), 1, 0).cast("int8")


def label_summary(snapshots: pd.DataFrame) -> list[dict[str, object]]:
    """Rows and label rate per cutoff, for the features report."""
    grouped = snapshots.groupby("cutoff", sort=True)["label"]
    return [
        {
            "cutoff": pd.Timestamp(str(cutoff)).isoformat(),
            "rows": int(labels.size),
            "label_rate": float(labels.mean()),
        }
        for cutoff, labels in grouped
    ]
