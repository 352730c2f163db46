"""Feature and label expressions, written once in Ibis and run on DuckDB or Spark.

Everything is expressed over two tables: ``orders`` (the canonical order lines) and
``cutoffs`` (one row per cutoff ``T``). The compiled query therefore does not depend
on the cutoff values: batch (many cutoffs) and the latest snapshot run the very same
expression. The online path evaluates the same definitions in-process
(:mod:`features.inprocess`, tested equal to this expression to the bit); a feature
added here must be added there too (``tests/features/test_online_property.py``).

Time discipline: a line feeds the features at ``T`` only when ``order_ts < T``
(the join predicate), so a row at or after ``T`` can change nothing but the label.
Ages are ``T - order_ts`` in whole seconds; a window "the last N days" is
``0 < age <= N * 86400`` i.e. ``order_ts`` in ``[T - N days, T)``; day outputs are
seconds / 86400. Money and gap sums are integers (see :func:`_micros`), so batch,
online and Spark results agree to the bit.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from config.features import FeatureParams
from features.catalog import SIGNAL_CATALOG, feature_names
from features.labels import (
    KEYS,
    SECONDS_PER_DAY,
    SECONDS_PER_DAY_INT,
    epoch_secs,
    future_orders,
    in_population,
    label_column,
)
from features.order_table import completed_times, order_table, split_lines
from features.signals import join_signals, signal_value
from ingest.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

MICROS = 1_000_000
SHARE_UNITS = 1e12
LAST_YEAR_DAYS = 365  # the longest product/category window (see _join_last_year)
WIDE = "decimal(38, 0)"  # exact integers past int64: squared gaps, n * S2 - S1^2

# ``cutoff_s`` = whole epoch seconds of ``cutoff``, precomputed so no row pays for it.
SIGNAL_NAMES = frozenset(f.name for f in SIGNAL_CATALOG)
CUTOFF_SCHEMA = ibis.schema({"cutoff": "timestamp", "cutoff_s": "int64"})
ORDERS_TABLE = "orders"
CUTOFFS_TABLE = "cutoffs"


def orders_schema(columns: frozenset[str]) -> ibis.Schema:
    """Canonical schema restricted to the optional ``columns`` that are present."""
    optional = {k: v for k, v in OPTIONAL_COLUMNS.items() if k in columns}
    return ibis.schema({**REQUIRED_COLUMNS, **optional})


def _micros(amount: ir.FloatingValue) -> ir.IntegerValue:
    """Money in integer millionths, so sums are exact and independent of summation order.

    Float sums depend on the order rows are added, which differs between a parallel
    batch run, a one-customer online call and Spark; integer sums do not.
    """
    return (amount * MICROS).round().cast("int64")


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """``num / den``, missing (not an error, not inf) when ``den <= 0`` or missing."""
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


def _zero(x: ir.NumericValue) -> ir.NumericValue:
    """Aggregates over no rows are missing; windows with no order count as 0."""
    return x.coalesce(0)


def _within(age: ir.IntegerValue, days: int) -> ir.BooleanValue:
    """``order_ts`` in ``[T - days, T)``, given ``age = T - order_ts`` > 0 in seconds."""
    return age <= days * SECONDS_PER_DAY_INT


def _between(age: ir.IntegerValue, after: int, until: int) -> ir.BooleanValue:
    """``order_ts`` in ``[T - until, T - after)``."""
    return (age > after * SECONDS_PER_DAY_INT) & (age <= until * SECONDS_PER_DAY_INT)


def _lines(orders: ir.Table) -> ir.Table:
    """Order lines with time in whole epoch seconds and money in integer micros.
    (Pre-summing lines per order and second paid off only with many lines per order.)
    """
    return orders.select(
        "customer_id",
        "order_id",
        "status",
        *[c for c in ("product_id", "category") if c in orders.columns],
        ts=epoch_secs(orders.order_ts),
        money=_micros(orders.amount),
        abs_money=_micros(orders.amount).abs(),
    )


# Spend windows (after, until) in days: ``order_ts`` in ``[T - until, T - after)``.
SPEND_WINDOWS = {"30d": (0, 30), "90d": (0, 90), "180d": (0, 180), "365d": (0, 365)}
SPEND_WINDOWS["prev90"] = (90, 180)
UNDONE = ("undone_365d", "undone_90d", "undone_prev90")


def _spend_sums(
    money: ir.IntegerValue, age: ir.IntegerValue, done: ir.BooleanValue | None, prefix: str
) -> dict[str, ir.Value]:
    """Sums of ``money`` over the lifetime and every spend window, named
    ``<prefix><window>``; ``done`` (the order is completed before ``T``) filters the
    rows unless every row qualifies (None)."""
    sums = {f"{prefix}lifetime": money.sum(where=done)}
    for name, (after, until) in SPEND_WINDOWS.items():
        window = _within(age, until) if after == 0 else _between(age, after, until)
        sums[f"{prefix}{name}"] = money.sum(where=window if done is None else done & window)
    return sums


def _order_aggregates(ords: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Per (customer, cutoff): completed order counts, recency, tenure, gap sums, the
    spend of one-second orders (lifetime and windows: ``one_second_<window>``), and
    cancelled orders in the last 365 days (``orders_lifetime`` is 0 when the customer
    has only cancelled orders before T).

    The gap is a lag over completed orders only: an order without a completed line has
    a null ``ts``, so it has no gap and gives none to the next order, whichever end the
    engine sorts nulls to. Only the columns used below go through the window's sort.
    """
    one_second = ibis.ifelse(ords.ts == ords.done_until, ords.money, ibis.null("int64"))
    ords = ords.select("customer_id", "ts", "cancel_ts", one_second=one_second)
    ords = ords.mutate(gap=ords.ts - ords.ts.lag().over(group_by="customer_id", order_by="ts"))
    j = ords.join(cutoffs, (ords.ts < cutoffs.cutoff_s) | (ords.cancel_ts < cutoffs.cutoff_s))
    done, cancelled = j.ts < j.cutoff_s, j.cancel_ts < j.cutoff_s
    age = j.cutoff_s - j.ts
    return j.group_by(list(KEYS)).aggregate(
        orders_lifetime=j.count(where=done),
        orders_30d=j.count(where=done & _within(age, 30)),
        orders_90d=j.count(where=done & _within(age, 90)),
        orders_180d=j.count(where=done & _within(age, 180)),
        orders_365d=j.count(where=done & _within(age, 365)),
        orders_prev90=j.count(where=done & _between(age, 90, 180)),
        last_age=age.min(where=done),
        first_age=age.max(where=done),
        gap_n=j.gap.count(where=done),
        gap_sum=j.gap.sum(where=done),
        gap_sq=(j.gap.cast(WIDE) * j.gap.cast(WIDE)).sum(where=done),
        cancelled_orders_365d=j.count(where=cancelled & _within(j.cutoff_s - j.cancel_ts, 365)),
        **_spend_sums(j.one_second, age, done, "one_second_"),
    )


def _split_aggregates(split: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """Per (customer, cutoff): the lifetime and window spend (``split_<window>``) of the
    ``split`` lines (:func:`features.order_table.split_lines`) before ``T``; added to
    the one-second orders' sums of :func:`_order_aggregates`, every completed line
    before T counts once, in integer micros."""
    j = split.join(cutoffs, split.ts < cutoffs.cutoff_s)
    return j.group_by(list(KEYS)).aggregate(
        **_spend_sums(j.money, j.cutoff_s - j.ts, None, "split_")
    )


def _undone_aggregates(recent: ir.Table) -> ir.Table:
    """Per (customer, cutoff): returned/cancelled value windows (micros) of the last 365
    days, from the lines that are not completed (a few percent of them)."""
    j = recent.filter(recent.status != "completed")
    age, undone_money = j.age, j.abs_money
    return j.group_by(list(KEYS)).aggregate(
        undone_365d=undone_money.sum(where=_within(age, 365)),
        undone_90d=undone_money.sum(where=_within(age, 90)),
        undone_prev90=undone_money.sum(where=_between(age, 90, 180)),
    )


def _join_last_year(lines: ir.Table, cutoffs: ir.Table) -> ir.Table:
    """``lines`` joined to each cutoff ``T`` with ``ts`` in ``[T - 365 days, T)``, with
    ``age = T - ts``: the lines of the returned/cancelled value, product and category
    windows.

    Every one of those windows lies within the last 365 days (every spend window comes
    from the order table), so older lines are dropped at the join instead of being
    carried through the group-bys; the joined lines are shared by the aggregations.
    """
    j = lines.join(
        cutoffs,
        (lines.ts < cutoffs.cutoff_s) & _within(cutoffs.cutoff_s - lines.ts, LAST_YEAR_DAYS),
    )
    return j.mutate(age=j.cutoff_s - j.ts)


def _product_aggregates(recent: ir.Table) -> ir.Table:
    """Per (customer, cutoff): distinct products bought in the last 90 and 365 days.

    Two group-bys (latest purchase per product, then counts) are much cheaper than
    two filtered COUNT(DISTINCT) on a large table.
    """
    j = recent.filter((recent.status == "completed") & recent.product_id.notnull())
    per_product = j.group_by([*KEYS, "product_id"]).aggregate(age=j.age.min())
    age = per_product.age
    return per_product.group_by(list(KEYS)).aggregate(
        products_90d=per_product.count(where=_within(age, 90)),
        products_365d=per_product.count(where=_within(age, 365)),
    )


def _category_aggregates(recent: ir.Table, params: FeatureParams) -> ir.Table:
    """Per (customer, cutoff): distinct categories, mix shift, regular categories missed.

    A category with no line in the last 365 days would add nothing to any of them (no
    window line, a share gap of 0, not regular), so ``recent`` lines suffice.
    """
    j = recent.filter((recent.status == "completed") & recent.category.notnull())
    age = j.age
    per_cat = j.group_by([*KEYS, "category"]).aggregate(
        spend_recent=_zero(j.money.sum(where=_within(age, 90))),
        spend_prev=_zero(j.money.sum(where=_between(age, 90, 180))),
        lines_recent=j.count(where=_within(age, 90)),
        lines_365d=j.count(where=_within(age, 365)),
        regular_orders=j.order_id.nunique(where=_between(age, 90, 365)),
    )
    w = ibis.window(group_by=list(KEYS))
    per_cat = per_cat.mutate(
        total_recent=per_cat.spend_recent.sum().over(w),
        total_prev=per_cat.spend_prev.sum().over(w),
    )
    share_gap = (
        _ratio(per_cat.spend_recent, per_cat.total_recent)
        - _ratio(per_cat.spend_prev, per_cat.total_prev)
    ).abs()
    # Rounded to 1e-12 and summed as integers: exact whatever the category order.
    share_gap_units = (share_gap * SHARE_UNITS).round().cast("int64")
    regular = per_cat.regular_orders >= params.regular_category_min_orders
    return per_cat.group_by(list(KEYS)).aggregate(
        categories_90d=per_cat.count(where=per_cat.lines_recent > 0),
        categories_365d=per_cat.count(where=per_cat.lines_365d > 0),
        category_shift_90d=ibis.ifelse(
            (per_cat.total_recent.max() > 0) & (per_cat.total_prev.max() > 0),
            share_gap_units.sum().cast("float64") / (2.0 * SHARE_UNITS),
            ibis.null("float64"),
        ),
        regular_categories_missed_90d=per_cat.count(where=regular & (per_cat.lines_recent == 0)),
    )


def _gap_std_days(t: ir.Table) -> ir.FloatingValue:
    """Population std of gaps from exact integer sums: sqrt(n*S2 - S1^2) / n.

    ``n*S2 - S1^2`` is computed in DECIMAL(38, 0), so equal gaps give exactly 0 and
    every engine gets the same bits.
    """
    n, s1, s2 = t.gap_n.cast(WIDE), t.gap_sum.cast(WIDE), t.gap_sq.cast(WIDE)
    spread = (n * s2 - s1 * s1).cast("float64")
    return spread.sqrt() / t.gap_n.cast("float64") / SECONDS_PER_DAY


def _derive(t: ir.Table, params: FeatureParams) -> dict[str, ir.Value]:
    """Catalog features computed from the joined aggregates."""
    gap_mean = t.gap_sum.cast("float64") / t.gap_n.cast("float64") / SECONDS_PER_DAY
    # Same-day repeat orders make gap_mean tiny; the floor keeps overdue_ratio readable.
    usual_gap = ibis.ifelse(
        t.gap_n >= 1,
        ibis.greatest(gap_mean, params.min_usual_gap_days),
        params.single_order_gap_days,
    )
    last_days = t.last_age.cast("float64") / SECONDS_PER_DAY
    aov_90 = _ratio(t.spend_90d, t.orders_90d)
    aov_prev = _ratio(t.spend_prev90, t.orders_prev90)
    tiers = params.value_tiers
    spend_365 = t.spend_365d.cast("float64") / MICROS
    derived: dict[str, ir.Value] = {
        "days_since_last_order": last_days,
        "orders_trend_90d": _ratio(t.orders_90d, t.orders_prev90) - 1.0,
        "spend_trend_90d": _ratio(t.spend_90d, t.spend_prev90) - 1.0,
        "aov_lifetime": _ratio(t.spend_lifetime, t.orders_lifetime) / MICROS,
        "aov_trend_90d": _ratio(aov_90, aov_prev) - 1.0,
        "gap_mean_days": ibis.ifelse(t.gap_n >= 1, gap_mean, ibis.null("float64")),
        "gap_std_days": ibis.ifelse(t.gap_n >= 2, _gap_std_days(t), ibis.null("float64")),
        "overdue_ratio": last_days / usual_gap,
        "overdue_days": ibis.ifelse(t.gap_n >= 1, last_days - gap_mean, ibis.null("float64")),
        "gap_cv": ibis.ifelse(
            (t.gap_n >= 2) & (t.gap_sum > 0),
            _gap_std_days(t) / gap_mean,
            ibis.null("float64"),
        ),
        "return_rate_365d": _ratio(t.undone_365d, t.spend_365d),
        "cancel_rate_365d": _ratio(
            _zero(t.cancelled_orders_365d), t.orders_365d + _zero(t.cancelled_orders_365d)
        ),
        "return_rate_trend_90d": _ratio(t.undone_90d, t.spend_90d)
        - _ratio(t.undone_prev90, t.spend_prev90),
        "tenure_days": t.first_age.cast("float64") / SECONDS_PER_DAY,
        "value_tier": ibis.cases(
            (spend_365 >= tiers.high, 2), (spend_365 >= tiers.medium, 1), else_=0
        ).cast("int8"),
    }
    for window in ("30d", "90d", "180d", "365d", "lifetime"):
        derived[f"spend_{window}"] = t[f"spend_{window}"].cast("float64") / MICROS
    return derived


def feature_table(
    orders: ir.Table,
    cutoffs: ir.Table,
    params: FeatureParams,
    columns: frozenset[str],
    *,
    labelled: bool,
    population_only: bool = True,
    signals: Mapping[str, ir.Table] | None = None,
) -> ir.Table:
    """Features (and optionally the label) per customer and cutoff.

    Parameters
    ----------
    orders, cutoffs
        Canonical order lines, and the cutoffs (``cutoff`` timestamp and its whole
        epoch seconds ``cutoff_s``, see :func:`features.engines.cutoff_frame`).
    params
        The ``features`` params (windows, horizon, lookback, tiers).
    columns
        Columns present in ``orders``; decides which catalog features are active.
    labelled
        Add ``label`` (int8): 1 when no completed order falls in ``[T, T+H)``.
    population_only
        Keep only customers with a completed order in ``[T - lookback, T)``; when
        False every customer with any completed order before ``T`` is kept.
    signals
        The canonical signal tables present (issue 14, :mod:`features.signals`), whose
        markers ``signal:<table>`` are in ``columns``.

    Returns
    -------
    ibis Table with ``customer_id``, ``cutoff``, the active features in catalog
    order, then ``label`` when ``labelled``.
    """
    lines = _lines(orders)
    ords = order_table(lines)
    base = _order_aggregates(ords, cutoffs)
    base = in_population(base, params) if population_only else base.filter(base.orders_lifetime > 0)
    done_split = split_lines(lines, ords)
    recent = _join_last_year(lines, cutoffs)
    undone, split = _undone_aggregates(recent), _split_aggregates(done_split, cutoffs)
    t = base.left_join(undone, list(KEYS)).left_join(split, list(KEYS))
    t = t.select(  # windows with no line count as 0
        *[base[c] for c in base.columns],
        **{c: _zero(undone[c]) for c in UNDONE},
        **{
            f"spend_{w}": _zero(base[f"one_second_{w}"]) + _zero(split[f"split_{w}"])
            for w in ("lifetime", *SPEND_WINDOWS)
        },
    )
    if "product_id" in columns:
        t = t.left_join(_product_aggregates(recent), list(KEYS))
    if "category" in columns:
        cats = _category_aggregates(recent, params)
        t = t.left_join(cats, list(KEYS))
    if labelled:
        t = t.left_join(
            future_orders(completed_times(ords, done_split), cutoffs, params), list(KEYS)
        )
    t = join_signals(t, signals or {}, cutoffs, columns)  # issue 14: signal tables
    derived = _derive(t, params)
    names = feature_names(columns)
    out: dict[str, ir.Value] = {"customer_id": t.customer_id, "cutoff": t.cutoff}
    for name in names:
        if name in SIGNAL_NAMES:
            out[name] = signal_value(t, name)
        else:
            out[name] = _count_or_value(t, name) if name not in derived else derived[name]
    if labelled:
        out["label"] = label_column(t.has_future)
    return t.select(**out).order_by(["cutoff", "customer_id"])


def _count_or_value(t: ir.Table, name: str) -> ir.Value:
    """Aggregated column ``name``; product/category counts are 0 (not missing) when the
    customer has no such line (the left join found no row)."""
    col = t[name]
    if name in {
        "products_90d",
        "products_365d",
        "categories_90d",
        "categories_365d",
        "regular_categories_missed_90d",
    }:
        return _zero(col)
    return col


def unbound_tables(columns: frozenset[str]) -> tuple[ir.Table, ir.Table]:
    """Unbound ``orders`` and ``cutoffs`` tables, for compiling once to SQL."""
    return (
        ibis.table(orders_schema(columns), name=ORDERS_TABLE),
        ibis.table(CUTOFF_SCHEMA, name=CUTOFFS_TABLE),
    )
