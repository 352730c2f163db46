"""The feature expressions evaluated in-process on one or a few customers' orders.

The batch engines run :func:`features.expressions.feature_table` (Ibis, DuckDB or
Spark). For a request carrying a few hundred order lines, a database round-trip costs
more than the work itself, so :mod:`features.online` evaluates the same definitions
here with numpy over the posted rows: the same integer-micros money, whole-second ages,
window predicates (``_within``/``_between``), order-level gaps and null rules, step for
step, so the results are equal to the batch engine's to the bit
(``tests/features/test_online.py`` and the hypothesis test in
``tests/features/test_online_property.py`` check it).

:data:`COMPUTED` names the catalog features computed here. A catalog feature missing
from it makes :mod:`features.online` fall back to the compiled DuckDB query (correct,
slower), and ``tests/features/test_online_property.py`` fails until it is added here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from config.features import FeatureParams
from features.expressions import MICROS, SHARE_UNITS
from features.labels import SECONDS_PER_DAY, SECONDS_PER_DAY_INT

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
INT64_SAFE = 2.0**62  # a bound on |sum| below this (with float slack) cannot overflow int64

#: Catalog features this module computes (see :func:`features_for`).
COMPUTED: frozenset[str] = frozenset(
    {
        "days_since_last_order",
        *(f"orders_{w}" for w in ("30d", "90d", "180d", "365d", "lifetime")),
        "orders_trend_90d",
        *(f"spend_{w}" for w in ("30d", "90d", "180d", "365d", "lifetime")),
        "spend_trend_90d",
        "aov_lifetime",
        "aov_trend_90d",
        "gap_mean_days",
        "gap_std_days",
        "overdue_ratio",
        "overdue_days",
        "gap_cv",
        "products_90d",
        "products_365d",
        "categories_90d",
        "categories_365d",
        "category_shift_90d",
        "regular_categories_missed_90d",
        "return_rate_365d",
        "cancel_rate_365d",
        "return_rate_trend_90d",
        "tenure_days",
        "value_tier",
    }
)


def _round_half_away(x: F64) -> F64:
    """``round(x)`` as DuckDB (C ``round``): halves away from zero, unlike ``np.round``."""
    whole = np.trunc(x)
    return whole + np.where(np.abs(x - whole) >= 0.5, np.sign(x), 0.0)


def micros(amount: F64) -> I64:
    """:func:`features.expressions._micros`: money in integer millionths."""
    return _round_half_away(amount * MICROS).astype(np.int64)


def _within(age: I64, days: int) -> NDArray[np.bool_]:
    return age <= days * SECONDS_PER_DAY_INT


def _between(age: I64, after: int, until: int) -> NDArray[np.bool_]:
    return (age > after * SECONDS_PER_DAY_INT) & (age <= until * SECONDS_PER_DAY_INT)


def _ratio(num: NDArray, den: NDArray) -> F64:
    """``num / den`` in float64; NaN (missing) where ``den <= 0`` or missing."""
    n, d = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, n / d, np.nan)


class _Groups:
    """Row -> customer index, and per-customer sums/counts/min/max over a row mask."""

    def __init__(self, codes: I64, n: int) -> None:
        self.codes, self.n = codes, n

    def count(self, mask: NDArray[np.bool_]) -> I64:
        return np.bincount(self.codes[mask], minlength=self.n).astype(np.int64)

    def sum(self, values: NDArray, mask: NDArray[np.bool_]) -> NDArray:
        """Exact sums, as the batch engine's 128-bit ``SUM``: int64, except that the
        groups whose sum of magnitudes could leave its range are summed in Python
        integers (the result is then an object array; ``astype(float64)`` rounds each
        exactly as DuckDB's HUGEINT -> DOUBLE cast does)."""
        codes, picked = self.codes[mask], values[mask]
        if picked.dtype == object:
            out, slow = np.zeros(self.n, dtype=object), np.ones(len(codes), dtype=bool)
        else:
            out = np.zeros(self.n, dtype=np.int64)
            np.add.at(out, codes, picked)
            magnitude = np.abs(picked.astype(np.float64))
            if magnitude.max(initial=0.0) * len(picked) < INT64_SAFE:  # the usual case
                return out
            risky = np.bincount(codes, weights=magnitude, minlength=self.n) >= INT64_SAFE
            if not risky.any():
                return out
            out, slow = out.astype(object), risky[codes]
            out[risky] = 0
        for code, value in zip(codes[slow].tolist(), picked[slow].tolist(), strict=True):
            out[code] += int(value)
        return out

    def reduce(self, ufunc: np.ufunc, values: I64, mask: NDArray[np.bool_], init: int) -> I64:
        out = np.full(self.n, init, dtype=np.int64)
        ufunc.at(out, self.codes[mask], values[mask])
        return out


def _gap_std_days(n: I64, s1: NDArray, s2: NDArray) -> F64:
    """:func:`features.expressions._gap_std_days` with Python's exact integers; ``float``
    rounds them to the nearest double, as DuckDB's (and Spark's) DECIMAL(38, 0) -> DOUBLE
    cast does."""
    spread = np.array(
        [float(int(a) * int(c) - int(b) * int(b)) for a, b, c in zip(n, s1, s2, strict=True)],
        dtype=np.float64,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(spread) / n.astype(np.float64) / SECONDS_PER_DAY


def _codes(values: NDArray[np.object_]) -> I64:
    """Integer codes of ``values`` (missing values get -1)."""
    codes, _ = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64)


def _group(*keys: I64) -> tuple[I64, int]:
    """Group id (0..g-1) of each row for the combination of integer ``keys`` (all >= 0)."""
    key = np.zeros(len(keys[0]), dtype=np.int64)
    for k in keys:
        key = key * (int(k.max(initial=0)) + 1) + k
    uniques, inverse = np.unique(key, return_inverse=True)
    return inverse.astype(np.int64).ravel(), len(uniques)


def _distinct_per_group(group: I64, n_groups: int, values: I64, mask: NDArray[np.bool_]) -> I64:
    """Per group, the number of distinct ``values`` (codes >= 0) among rows in ``mask``."""
    radix = int(values.max(initial=0)) + 1
    pairs = np.unique(group[mask] * radix + values[mask])
    return np.bincount(pairs // radix, minlength=n_groups).astype(np.int64)


def _first_per_group(group: I64, n_groups: int, values: I64) -> I64:
    """The first row index of each group (any row would do: keys are equal in a group)."""
    first = np.full(n_groups, len(group), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(group), dtype=np.int64))
    return first


class OrderLines:
    """The posted lines as numpy arrays: customer codes, seconds, money, status."""

    def __init__(self, frame: pd.DataFrame, cutoff_s: int) -> None:
        ts = frame["order_ts"].to_numpy(dtype="datetime64[us]")
        self.ts = ts.astype("datetime64[s]").astype(np.int64)  # floor, like truncate('s')
        codes, self.customers = pd.factorize(frame["customer_id"].to_numpy(object), sort=True)
        self.customer_codes = np.asarray(codes, dtype=np.int64)
        self.status = frame["status"].to_numpy(dtype=object)
        self.money = micros(frame["amount"].to_numpy(dtype=np.float64))
        self.order_ids = frame["order_id"].to_numpy(dtype=object)
        self.order_codes = _codes(self.order_ids)
        self.frame = frame
        self.cutoff_s = cutoff_s
        self.before = self.ts < cutoff_s
        self.age = cutoff_s - self.ts
        self.completed = self.status == "completed"


def _orders(lines: OrderLines, status: str) -> tuple[I64, I64]:
    """Orders of one ``status``: (customer code, earliest line second), one row each."""
    keep = lines.status == status
    cust, ts = lines.customer_codes[keep], lines.ts[keep]
    if not keep.any():
        return cust, ts
    group, n_groups = _group(cust, lines.order_codes[keep])
    first = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, group, ts)
    return cust[_first_per_group(group, n_groups, ts)], first


def _order_aggregates(lines: OrderLines, n: int) -> dict[str, I64]:
    """:func:`features.expressions._order_aggregates` for every posted customer."""
    cust, ts = _orders(lines, "completed")
    order = np.lexsort((ts, cust))
    cust, ts = cust[order], ts[order]
    has_prev = np.r_[False, cust[1:] == cust[:-1]]
    gap = np.where(has_prev, ts - np.r_[0, ts[:-1]], 0)
    before = ts < lines.cutoff_s
    age = lines.cutoff_s - ts
    g = _Groups(cust, n)
    gapped = before & has_prev
    return {
        "orders_lifetime": g.count(before),
        "orders_30d": g.count(before & _within(age, 30)),
        "orders_90d": g.count(before & _within(age, 90)),
        "orders_180d": g.count(before & _within(age, 180)),
        "orders_365d": g.count(before & _within(age, 365)),
        "orders_prev90": g.count(before & _between(age, 90, 180)),
        "last_age": g.reduce(np.minimum, age, before, np.iinfo(np.int64).max),
        "first_age": g.reduce(np.maximum, age, before, -1),
        "gap_n": g.count(gapped),
        "gap_sum": g.sum(gap, gapped),
        "gap_sq": g.sum(_squares(gap), gapped),
    }


def _squares(values: I64) -> NDArray:
    """``values ** 2``, exact: Python integers once a square could leave int64 (a gap of
    over 96 years, possible with an early ``data.min_date``)."""
    if np.abs(values.astype(np.float64)).max(initial=0.0) ** 2 < INT64_SAFE:
        return values * values
    return np.array([v * v for v in values.tolist()], dtype=object)


def _cancel_aggregates(lines: OrderLines, n: int) -> dict[str, I64]:
    cust, ts = _orders(lines, "cancelled")
    age = lines.cutoff_s - ts
    g = _Groups(cust, n)
    return {"cancelled_orders_365d": g.count((ts < lines.cutoff_s) & _within(age, 365))}


def _spend_aggregates(lines: OrderLines, n: int) -> dict[str, I64]:
    g = _Groups(lines.customer_codes, n)
    age, money, undone_money = lines.age, lines.money, np.abs(lines.money)
    done = lines.before & lines.completed
    undone = lines.before & ~lines.completed
    recent, prev = _within(age, 90), _between(age, 90, 180)
    out = {f"spend_{d}d": g.sum(money, done & _within(age, d)) for d in (30, 90, 180, 365)}
    out["spend_lifetime"] = g.sum(money, done)
    out["spend_prev90"] = g.sum(money, done & prev)
    out["undone_365d"] = g.sum(undone_money, undone & _within(age, 365))
    out["undone_90d"] = g.sum(undone_money, undone & recent)
    out["undone_prev90"] = g.sum(undone_money, undone & prev)
    return out


def _kept(lines: OrderLines, column: str) -> tuple[NDArray[np.bool_], I64]:
    """Completed lines before the cutoff with ``column`` present, and its codes there."""
    codes = _codes(lines.frame[column].to_numpy(object))
    keep = lines.before & lines.completed & (codes >= 0)
    return keep, codes[keep]


def _product_aggregates(lines: OrderLines, n: int) -> dict[str, I64]:
    """Distinct products by their latest purchase (smallest age) before the cutoff."""
    keep, products = _kept(lines, "product_id")
    cust, age = lines.customer_codes[keep], lines.age[keep]
    if not keep.any():
        return {"products_90d": np.zeros(n, np.int64), "products_365d": np.zeros(n, np.int64)}
    group, n_groups = _group(cust, products)
    latest = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(latest, group, age)
    g = _Groups(cust[_first_per_group(group, n_groups, age)], n)
    return {
        "products_90d": g.count(_within(latest, 90)),
        "products_365d": g.count(_within(latest, 365)),
    }


def _category_aggregates(lines: OrderLines, n: int, params: FeatureParams) -> dict[str, NDArray]:
    """:func:`features.expressions._category_aggregates`: breadth, mix shift, missed."""
    keep, cats = _kept(lines, "category")
    zeros = np.zeros(n, np.int64)
    if not keep.any():
        return {"categories_90d": zeros, "categories_365d": zeros,
                "category_shift_90d": np.full(n, np.nan),
                "regular_categories_missed_90d": zeros}  # fmt: skip
    cust, age, money = lines.customer_codes[keep], lines.age[keep], lines.money[keep]
    group, n_groups = _group(cust, cats)
    per = _Groups(group, n_groups)
    recent_line, prev_line = _within(age, 90), _between(age, 90, 180)
    recent = per.sum(money, recent_line)
    prev = per.sum(money, prev_line)
    lines_recent = per.count(recent_line)
    lines_365d = per.count(_within(age, 365))
    regular_orders = _distinct_per_group(
        group, n_groups, lines.order_codes[keep], _between(age, 90, 365)
    )
    owner = cust[_first_per_group(group, n_groups, age)]
    g = _Groups(owner, n)
    all_cats = np.ones(n_groups, bool)
    total_recent, total_prev = g.sum(recent, all_cats), g.sum(prev, all_cats)
    share_gap = np.abs(_ratio(recent, total_recent[owner]) - _ratio(prev, total_prev[owner]))
    units = _round_half_away(share_gap * SHARE_UNITS)
    valid = ~np.isnan(units)
    unit_sum = g.sum(np.where(valid, units, 0).astype(np.int64), valid)
    both = (total_recent > 0) & (total_prev > 0)
    regular = regular_orders >= params.regular_category_min_orders
    return {
        "categories_90d": g.count(lines_recent > 0),
        "categories_365d": g.count(lines_365d > 0),
        "category_shift_90d": np.where(
            both, unit_sum.astype(np.float64) / (2.0 * SHARE_UNITS), np.nan
        ),
        "regular_categories_missed_90d": g.count(regular & (lines_recent == 0)),
    }


def _derive(t: dict[str, NDArray], params: FeatureParams) -> dict[str, NDArray]:
    """:func:`features.expressions._derive`, the same operations in the same order."""
    gap_n = t["gap_n"]
    gap_std = _gap_std_days(gap_n, t["gap_sum"], t["gap_sq"])
    with np.errstate(divide="ignore", invalid="ignore"):
        gap_mean = t["gap_sum"].astype(np.float64) / gap_n.astype(np.float64) / SECONDS_PER_DAY
        gap_cv = gap_std / gap_mean  # 0/0 where every order shares one second: masked
    usual_gap = np.where(
        gap_n >= 1, np.maximum(gap_mean, params.min_usual_gap_days), params.single_order_gap_days
    )
    last_days = t["last_age"].astype(np.float64) / SECONDS_PER_DAY
    aov_90 = _ratio(t["spend_90d"], t["orders_90d"])
    aov_prev = _ratio(t["spend_prev90"], t["orders_prev90"])
    spend_365 = t["spend_365d"].astype(np.float64) / MICROS
    tiers = params.value_tiers
    cancelled = t["cancelled_orders_365d"]
    derived: dict[str, NDArray] = {
        "days_since_last_order": last_days,
        "orders_trend_90d": _ratio(t["orders_90d"], t["orders_prev90"]) - 1.0,
        "spend_trend_90d": _ratio(t["spend_90d"], t["spend_prev90"]) - 1.0,
        "aov_lifetime": _ratio(t["spend_lifetime"], t["orders_lifetime"]) / MICROS,
        "aov_trend_90d": _ratio(aov_90, aov_prev) - 1.0,
        "gap_mean_days": np.where(gap_n >= 1, gap_mean, np.nan),
        "gap_std_days": np.where(gap_n >= 2, gap_std, np.nan),
        "overdue_ratio": last_days / usual_gap,
        "overdue_days": np.where(gap_n >= 1, last_days - gap_mean, np.nan),
        "gap_cv": np.where((gap_n >= 2) & (t["gap_sum"] > 0), gap_cv, np.nan),
        "return_rate_365d": _ratio(t["undone_365d"], t["spend_365d"]),
        "cancel_rate_365d": _ratio(cancelled, t["orders_365d"] + cancelled),
        "return_rate_trend_90d": _ratio(t["undone_90d"], t["spend_90d"])
        - _ratio(t["undone_prev90"], t["spend_prev90"]),
        "tenure_days": t["first_age"].astype(np.float64) / SECONDS_PER_DAY,
        "value_tier": np.where(
            spend_365 >= tiers.high, 2, np.where(spend_365 >= tiers.medium, 1, 0)
        ).astype(np.int8),
    }
    for window in ("30d", "90d", "180d", "365d", "lifetime"):
        derived[f"spend_{window}"] = t[f"spend_{window}"].astype(np.float64) / MICROS
    return derived


_AGGREGATES: tuple[tuple[str | None, Callable[..., dict[str, NDArray]]], ...] = (
    (None, _spend_aggregates),
    (None, _cancel_aggregates),
    ("product_id", _product_aggregates),
)


def features_for(
    frame: pd.DataFrame, cutoff_s: int, params: FeatureParams, names: list[str]
) -> tuple[NDArray[np.object_], dict[str, NDArray]]:
    """Customer ids and the ``names`` features of every customer with a completed order
    before ``cutoff_s`` (whole epoch seconds), from canonical order lines ``frame``.

    Customers come out sorted by id, as the batch query orders them.
    """
    lines = OrderLines(frame, cutoff_s)
    n = len(lines.customers)
    t: dict[str, NDArray] = _order_aggregates(lines, n)
    for column, aggregate in _AGGREGATES:
        if column is None or column in frame.columns:
            t.update(aggregate(lines, n))
    if "category" in frame.columns:
        t.update(_category_aggregates(lines, n, params))
    values = {**t, **_derive(t, params)}
    keep = t["orders_lifetime"] > 0  # the population: a completed order before T
    ids = np.asarray(lines.customers, dtype=object)[keep]
    return ids, {name: values[name][keep] for name in names}
