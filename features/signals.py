"""As-of features of the signal tables (issue 14), in Ibis so DuckDB and Spark share them.

Each function takes one canonical signal table (:data:`ingest.signal_schema.SIGNAL_COLUMNS`)
and the ``cutoffs`` table and returns one row per (customer, cutoff) with catalog
features (:mod:`features.catalog_signals`). Rows join a cutoff only when their start
time is before it (``< T``); facts that arrive later (a ticket's closing and score, a
response, a cancellation, a payment) count only when they too are before ``T``. Times
are whole epoch seconds and money integer micros, as in :mod:`features.expressions`,
so every engine gets the same bits.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from features.labels import KEYS, SECONDS_PER_DAY, SECONDS_PER_DAY_INT, epoch_secs
from ingest.signal_schema import SIGNAL_COLUMNS, marker

MICROS = 1_000_000
SCORE_UNITS = 1_000_000  # satisfaction scores summed as integer millionths
DAY = SECONDS_PER_DAY_INT

#: Signal features that are counts (int64, 0 when the customer has no row).
COUNT_FEATURES: frozenset[str] = frozenset(
    {
        "complaints_30d",
        "complaints_120d",
        "open_tickets",
        "contracts_cancelled_90d",
        "overdue_invoices",
        "usage_events_30d",
    }
)
#: Signal features that are 0 (not missing) when the customer has no row.
ZERO_FEATURES: frozenset[str] = COUNT_FEATURES | {"overdue_amount", "max_days_overdue"}


def signal_schema(table: str) -> ibis.Schema:
    """Ibis schema of a canonical signal table."""
    return ibis.schema(SIGNAL_COLUMNS[table])


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


def _before(ts: ir.IntegerValue, cutoff_s: ir.IntegerValue) -> ir.BooleanValue:
    """Known at the cutoff: present and strictly before it."""
    return ts.notnull() & (ts < cutoff_s)


def _age_in(age: ir.IntegerValue, after: int, until: int) -> ir.BooleanValue:
    """Start in ``[T - until days, T - after days)`` given ``age = T - start`` > 0."""
    return (age > after * DAY) & (age <= until * DAY)


def ticket_features(tickets: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Complaints 30d/120d, open tickets, satisfaction trend."""
    t = tickets.select(
        "customer_id",
        opened=epoch_secs(tickets.opened_at),
        closed=epoch_secs(tickets.closed_at),
        complaint=tickets.is_complaint,
        score=(tickets.satisfaction * SCORE_UNITS).round().cast("int64"),
    )
    j = t.join(cutoffs, t.opened < cutoffs.cutoff_s)
    age = j.cutoff_s - j.opened
    closed = _before(j.closed, j.cutoff_s)
    scored = closed & j.score.notnull()
    recent, prev = scored & _age_in(age, 0, 90), scored & _age_in(age, 90, 180)
    agg = j.group_by(list(KEYS)).aggregate(
        complaints_30d=j.count(where=j.complaint & _age_in(age, 0, 30)),
        complaints_120d=j.count(where=j.complaint & _age_in(age, 0, 120)),
        open_tickets=j.count(where=~closed),
        score_recent=j.score.sum(where=recent),
        n_recent=j.count(where=recent),
        score_prev=j.score.sum(where=prev),
        n_prev=j.count(where=prev),
    )
    mean_recent = _ratio(agg.score_recent, agg.n_recent)
    mean_prev = _ratio(agg.score_prev, agg.n_prev)
    return agg.select(
        *KEYS,
        "complaints_30d",
        "complaints_120d",
        "open_tickets",
        satisfaction_trend_90d=_ratio(mean_recent, mean_prev) - 1.0,
    )


def interaction_features(interactions: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Inbound contact trend and our mean response time (answered before the cutoff)."""
    t = interactions.filter(interactions.inbound)
    t = t.select("customer_id", ts=epoch_secs(t.ts), responded=epoch_secs(t.responded_at))
    j = t.join(cutoffs, (t.ts < cutoffs.cutoff_s) & (cutoffs.cutoff_s - t.ts <= 180 * DAY))
    age = j.cutoff_s - j.ts
    answered = _before(j.responded, j.cutoff_s) & _age_in(age, 0, 90)
    agg = j.group_by(list(KEYS)).aggregate(
        contacts_recent=j.count(where=_age_in(age, 0, 90)),
        contacts_prev=j.count(where=_age_in(age, 90, 180)),
        wait_sum=(j.responded - j.ts).sum(where=answered),
        wait_n=j.count(where=answered),
    )
    return agg.select(
        *KEYS,
        inbound_contacts_trend_90d=_ratio(agg.contacts_recent, agg.contacts_prev) - 1.0,
        response_hours_90d=_ratio(agg.wait_sum, agg.wait_n) / 3600.0,
    )


def contract_features(contracts: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Days to the nearest contract end (any / without auto-renewal), recent cancellations."""
    t = contracts.select(
        "customer_id",
        start=epoch_secs(contracts.start_at),
        end=epoch_secs(contracts.end_at),
        auto=contracts.auto_renew.coalesce(False),
        cancelled=epoch_secs(contracts.cancelled_at),
    )
    j = t.join(cutoffs, t.start < cutoffs.cutoff_s)
    gone = _before(j.cancelled, j.cutoff_s)
    live = ~gone & (j.end >= j.cutoff_s)
    left = j.end - j.cutoff_s
    agg = j.group_by(list(KEYS)).aggregate(
        end_left=left.min(where=live),
        manual_left=left.min(where=live & ~j.auto),
        contracts_cancelled_90d=j.count(where=gone & (j.cutoff_s - j.cancelled <= 90 * DAY)),
    )
    return agg.select(
        *KEYS,
        "contracts_cancelled_90d",
        days_to_contract_end=agg.end_left.cast("float64") / SECONDS_PER_DAY,
        days_to_end_no_autorenew=agg.manual_left.cast("float64") / SECONDS_PER_DAY,
    )


def invoice_features(invoices: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Overdue invoices at the cutoff: count, amount, days the oldest is past due."""
    t = invoices.select(
        "customer_id",
        issued=epoch_secs(invoices.issued_at),
        due=epoch_secs(invoices.due_at),
        paid=epoch_secs(invoices.paid_at),
        money=(invoices.amount * MICROS).round().cast("int64"),
    )
    j = t.join(cutoffs, (t.issued < cutoffs.cutoff_s) & (t.due < cutoffs.cutoff_s))
    overdue = ~_before(j.paid, j.cutoff_s)
    agg = j.group_by(list(KEYS)).aggregate(
        overdue_invoices=j.count(where=overdue),
        money=j.money.sum(where=overdue),
        late=(j.cutoff_s - j.due).max(where=overdue),
    )
    return agg.select(
        *KEYS,
        "overdue_invoices",
        overdue_amount=agg.money.coalesce(0).cast("float64") / MICROS,
        max_days_overdue=agg.late.coalesce(0).cast("float64") / SECONDS_PER_DAY,
    )


def usage_features(usage: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Usage trend (last 30 days vs the 30 before) and breadth (distinct events, 30d)."""
    t = usage.select(
        "customer_id",
        "event",
        ts=epoch_secs(usage.ts),
        qty=(usage.quantity.coalesce(1.0) * MICROS).round().cast("int64"),
    )
    j = t.join(cutoffs, (t.ts < cutoffs.cutoff_s) & (cutoffs.cutoff_s - t.ts <= 60 * DAY))
    j = j.mutate(age=j.cutoff_s - j.ts)
    per_event = j.group_by([*KEYS, "event"]).aggregate(
        recent=j.qty.sum(where=_age_in(j.age, 0, 30)),
        prev=j.qty.sum(where=_age_in(j.age, 30, 60)),
        used=j.count(where=_age_in(j.age, 0, 30)),
    )
    agg = per_event.group_by(list(KEYS)).aggregate(
        recent=per_event.recent.sum(),
        prev=per_event.prev.sum(),
        usage_events_30d=per_event.count(where=per_event.used > 0),
    )
    return agg.select(
        *KEYS,
        "usage_events_30d",
        usage_trend_30d=_ratio(agg.recent.coalesce(0), agg.prev.coalesce(0)) - 1.0,
    )


BUILDERS = {
    "tickets": ticket_features,
    "interactions": interaction_features,
    "contracts": contract_features,
    "invoices": invoice_features,
    "usage": usage_features,
}


def join_signals(
    base: ir.Table,
    signals: Mapping[str, ir.Table],
    cutoffs: ir.Table,
    columns: frozenset[str],
) -> ir.Table:
    """``base`` (keyed by customer and cutoff) with the features of each present table."""
    for name, builder in BUILDERS.items():
        if marker(name) in columns:
            base = base.left_join(builder(signals[name], cutoffs), list(KEYS))
    return base


def signal_value(t: ir.Table, name: str) -> ir.Value:
    """Feature ``name`` from the joined table: 0 for counts and amounts with no row."""
    col = t[name]
    return col.coalesce(0) if name in ZERO_FEATURES else col


def unbound_signals(columns: frozenset[str]) -> dict[str, ir.Table]:
    """Unbound signal tables named like their table, for compiling once to SQL."""
    return {
        name: ibis.table(signal_schema(name), name=name)
        for name in SIGNAL_COLUMNS
        if marker(name) in columns
    }
