"""The order table: one row per order, the cutoff-independent pre-aggregate of the lines.

Orders (their time, the gap to the previous one), cancelled orders, lifetime spend and
the label all come from this one group-by over the order lines, computed once for any
number of cutoffs (:func:`features.expressions.feature_table`). An order's completed
lines normally share one second; those that do not (a rare order, none in most
exports) are read again line by line (:func:`split_lines`), so every result is exact
whatever the data, and the semi-join reads next to nothing when there are none.
Times are whole epoch seconds and money integer micros (:mod:`features.expressions`).
"""

from __future__ import annotations

import ibis.expr.types as ir


def order_table(lines: ir.Table) -> ir.Table:
    """One row per order with a completed or a cancelled line (cutoff-independent).

    ``ts``: its earliest completed line, ``cancel_ts``: its earliest cancelled line;
    that earliest time is < T exactly when some such line is < T, so orders (and the
    gap to the previous order) are computed once, before the cutoff join: the orders
    before T are a prefix of the sequence. ``done_until`` is its latest completed line
    and ``money`` the sum of its completed lines: when ``ts == done_until`` (all its
    completed lines in one second, the usual order) that sum is before T exactly when
    ``ts`` is, so neither lifetime spend nor the label need a pass over the lines
    (the other orders' lines: :func:`split_lines`).
    """
    done, cancelled = lines.status == "completed", lines.status == "cancelled"
    kept = lines.filter(done | cancelled)
    return kept.group_by(["customer_id", "order_id"]).aggregate(
        ts=kept.ts.min(where=done),
        done_until=kept.ts.max(where=done),
        cancel_ts=kept.ts.min(where=cancelled),
        money=kept.money.sum(where=done),
    )


def split_lines(lines: ir.Table, ords: ir.Table) -> ir.Table:
    """Completed lines (``customer_id``, ``ts``, ``money``) of the orders whose completed
    lines span more than one second: rare (none in most exports), so the semi-join
    usually reads next to nothing."""
    split = ords.filter(ords.ts < ords.done_until).select("customer_id", "order_id")
    done = lines.filter(lines.status == "completed")
    return done.semi_join(split, ["customer_id", "order_id"]).select("customer_id", "ts", "money")


def completed_times(ords: ir.Table, split: ir.Table) -> ir.Table:
    """``customer_id``, ``ts``: the earliest completed line of every order and every
    ``split`` line (:func:`split_lines`). A completed line lies in a time range exactly
    when one of these times does: an order's completed lines are all at its ``ts``
    unless it is split (for the label, :func:`features.labels.future_orders`)."""
    firsts = ords.filter(ords.ts.notnull()).select("customer_id", "ts")
    return firsts.union(split.select("customer_id", "ts"))
