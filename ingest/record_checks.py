"""The ingest rules evaluated on columns of API records (numpy), not row by row.

``POST /v1/churn/score`` posts a few hundred orders; checking them one Python object at a
time cost more than building the customer's features. Here each field is read once
into a column (:class:`Columns`), parsed as the batch SQL parses it
(:mod:`ingest.checks`), and every check of the batch SQL's ordered rule list
(:func:`ingest.rules.rules`) is one boolean mask over the rows; a row's verdict is the
first rule whose mask holds, exactly as the SQL ``CASE`` picks it. Each check's test is
the SQL condition in :mod:`ingest.rules` written a second time; the property test in
``tests/ingest/test_ingest_records.py`` holds the two to identical verdicts and values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from config.data import DataParams
from ingest.checks import as_text, customer_id, number, timestamps, trimmed
from ingest.schema import STATUSES
from ingest.sql import Rule, data_end_bound, plausible_range

Mask = NDArray[np.bool_]
_CANONICAL_STATUS: dict[str, str] = {s: s for s in STATUSES}


def each(values: Sequence[Any], parse: Callable[[Any], Any]) -> NDArray[np.object_]:
    """``parse`` of every value as an object array, parsed once per distinct value."""
    seen = {v: parse(v) for v in set(values)}
    out = np.empty(len(values), dtype=object)
    out[:] = [seen[v] for v in values]
    return out


def is_none(values: Sequence[Any] | NDArray[Any]) -> Mask:
    """Which values are ``None`` (SQL NULL)."""
    return np.fromiter((v is None for v in values), bool, len(values))


def take(values: list[Any], rows: NDArray[np.intp]) -> list[Any]:
    """``values`` at ``rows`` (all of them, unchanged, when ``rows`` is every row)."""
    if len(rows) == len(values):
        return values  # rows are sorted and distinct, so this is every row in order
    return [values[i] for i in rows.tolist()]


def _numbers(texts: Sequence[str | None]) -> tuple[NDArray[np.float64], Mask]:
    """``TRY_CAST(text AS DOUBLE)`` of a column: values (NaN where missing) and missing."""
    parsed = [number(t) for t in texts]
    missing = np.fromiter((v is None for v in parsed), bool, len(parsed))
    values = np.fromiter((np.nan if v is None else v for v in parsed), np.float64, len(parsed))
    return values, missing


@dataclass(frozen=True)
class Columns:
    """Records parsed like the ``__c_*`` columns of the batch SQL, one array per value.

    ``texts`` holds every field as the text a CSV cell would hold (``None`` when not
    given); numbers are NaN where missing, with a separate ``*_missing`` mask because
    the SQL tells a missing (NULL) number from a NaN one.
    """

    texts: dict[str, list[str | None]]
    customer_id: NDArray[np.object_]
    order_ts: NDArray[np.datetime64]
    q: NDArray[np.float64]
    q_missing: Mask
    p: NDArray[np.float64]
    p_missing: Mask
    a: NDArray[np.float64]
    a_missing: Mask

    @classmethod
    def read(cls, records: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> Columns:
        sent = set().union(*records)
        absent: list[Any] = [None] * len(records)
        raw = {f: [r.get(f) for r in records] if f in sent else absent for f in fields}
        texts = {
            f: [v if v is None or type(v) is str else as_text(v) for v in values]
            if f in sent
            else absent
            for f, values in raw.items()
        }
        q, q_missing = _numbers(texts["quantity"])
        p, p_missing = _numbers(texts["unit_price"])
        a, a_missing = _numbers(texts["amount"])
        return cls(
            texts=texts,
            customer_id=each(texts["customer_id"], customer_id),
            order_ts=timestamps(raw["order_ts"]),
            q=q, q_missing=q_missing, p=p, p_missing=p_missing, a=a, a_missing=a_missing,
        )  # fmt: skip

    def given(self, field: str) -> Mask:
        """Rows that give a value for ``field``."""
        return ~is_none(self.texts[field])

    def groups(self) -> dict[frozenset[str], NDArray[np.intp]]:
        """Rows by the set of fields they give (optional fields are optional per row)."""
        names = list(self.texts)
        bits = np.zeros(len(self.customer_id), np.int64)
        for k, name in enumerate(names):
            if any(t is not None for t in self.texts[name]):
                bits |= self.given(name).astype(np.int64) << k
        codes, which = np.unique(bits, return_inverse=True)
        return {
            frozenset(n for k, n in enumerate(names) if code >> k & 1): np.flatnonzero(which == j)
            for j, code in enumerate(codes.tolist())
        }

    def duplicates(self) -> Mask:
        """Rows repeating an earlier row on every field (the first copy is not one)."""
        seen: set[tuple[str | None, ...]] = set()
        out = np.zeros(len(self.customer_id), bool)
        for i, key in enumerate(zip(*self.texts.values(), strict=True)):
            out[i] = key in seen
            seen.add(key)
        return out


@dataclass(frozen=True)
class Parsed:
    """One group's rows (same params) with the derived amount, status and fee flag."""

    rows: NDArray[np.intp]
    texts: dict[str, list[str | None]]
    order_ts: NDArray[np.datetime64]
    q: NDArray[np.float64]
    q_missing: Mask
    p: NDArray[np.float64]
    p_missing: Mask
    amount: NDArray[np.float64]
    amount_missing: Mask
    status: NDArray[np.object_]
    fee: Mask


def _amount(
    params: DataParams, c: Columns, rows: NDArray[np.intp], amount_texts: list[str | None]
) -> tuple[NDArray[np.float64], Mask]:
    """The amount, or quantity x unit_price when unmapped or blank (as ``_amount_expr``)."""
    m = params.columns
    if not (m.quantity and m.unit_price):
        return c.a[rows], c.a_missing[rows]
    derived_missing = c.q_missing[rows] | c.p_missing[rows]
    derived = np.where(derived_missing, np.nan, c.q[rows] * c.p[rows])
    if m.amount is None:
        return derived, derived_missing
    blank = is_none(each(amount_texts, trimmed))
    return np.where(blank, derived, c.a[rows]), np.where(blank, derived_missing, c.a_missing[rows])


def _mapped_status(params: DataParams, text: str | None) -> str | None:
    key = (text or "").strip(" ").lower()
    value_map = params.status.value_map  # wins over the canonical names themselves
    return value_map[key] if key in value_map else _CANONICAL_STATUS.get(key)


def _status(
    params: DataParams, texts: dict[str, list[str | None]], sign: NDArray[np.float64]
) -> NDArray[np.object_]:
    """Cancelled prefix, mapped returned/cancelled, negative sign, else completed."""
    m = params.columns
    status = np.full(len(sign), "completed", dtype=object)
    if params.status.negative_quantity_is_return:
        status[sign < 0] = "returned"  # NaN and missing compare False
    if m.status:
        mapped = each(texts[m.status], lambda t: _mapped_status(params, t))
        override = np.isin(mapped, ["returned", "cancelled"]) | is_none(mapped)
        status[override] = mapped[override]
    prefix = params.status.cancelled_prefix
    if prefix:
        lead = prefix.prefix
        hit = each(texts[prefix.column], lambda t: t is not None and t.startswith(lead))
        status[hit.astype(bool)] = "cancelled"
    return status


def _fee(params: DataParams, texts: dict[str, list[str | None]], n: int) -> Mask:
    """Non-product code test on the configured column (codes list or regex search)."""
    rules = params.non_product_codes
    if not rules.column:
        return np.zeros(n, bool)

    def is_fee(text: str | None) -> bool:
        if text is None:
            return False
        return (bool(rules.codes) and text.strip(" ") in rules.codes) or bool(
            rules.regex and re.search(rules.regex, text)
        )

    return each(texts[rules.column], is_fee).astype(bool)


def parse_group(params: DataParams, c: Columns, rows: NDArray[np.intp]) -> Parsed:
    """Amount, status and fee of ``rows`` under ``params`` (the group's mapping)."""
    texts = {f: take(v, rows) for f, v in c.texts.items()}
    m = params.columns
    amount, amount_missing = _amount(params, c, rows, texts["amount"])
    sign = c.q[rows] if m.quantity else amount
    return Parsed(
        rows=rows, texts=texts, order_ts=c.order_ts[rows],
        q=c.q[rows], q_missing=c.q_missing[rows], p=c.p[rows], p_missing=c.p_missing[rows],
        amount=amount, amount_missing=amount_missing,
        status=_status(params, texts, sign), fee=_fee(params, texts, len(rows)),
    )  # fmt: skip


def _bad(values: NDArray[np.float64], missing: Mask) -> Mask:
    return missing | ~np.isfinite(values)


def check_masks(
    params: DataParams, g: Parsed, customer: NDArray[np.object_], dup: Mask, now: datetime
) -> dict[str, Callable[[], Mask]]:
    """Column twin of each :class:`~ingest.sql.Rule` condition, by check id (lazy)."""
    ts = g.order_ts
    earliest, latest = plausible_range(params, now)
    sale = g.status == "completed"

    def implausible_ts() -> Mask:
        early = ts < np.datetime64(earliest, "us")
        return early | (ts > np.datetime64(latest, "us")) if latest is not None else early

    def after_end() -> Mask:
        bound = data_end_bound(params.data_end)
        assert bound is not None
        edge = np.datetime64(bound[0], "us")
        return ts >= edge if bound[1] else ts > edge

    def sign(values: NDArray[np.float64], missing: Mask) -> Mask:
        return sale & (missing | (values <= 0))  # missing counts as 0; NaN does not

    return {
        "customer": lambda: is_none(customer),
        "timestamp": lambda: np.isnat(ts),
        "plausible_ts": implausible_ts,
        "plausible_amount": lambda: ~g.amount_missing & (np.abs(g.amount) > params.max_abs_amount),
        "quantity": lambda: _bad(g.q, g.q_missing),
        "unit_price": lambda: _bad(g.p, g.p_missing),
        "amount": lambda: _bad(g.amount, g.amount_missing),
        "status": lambda: is_none(g.status),
        "price_sign": lambda: sign(g.p, g.p_missing),
        "amount_sign": lambda: sign(g.amount, g.amount_missing),
        "duplicate": lambda: dup,
        "non_product": lambda: g.fee,
        "after_end": after_end,
    }


def verdicts(ordered: list[Rule], masks: dict[str, Callable[[], Mask]], n: int) -> NDArray[np.intp]:
    """Index into ``ordered`` of each row's first failed rule; -1 for a clean row."""
    out = np.full(n, -1, np.intp)
    for k, rule in enumerate(ordered):
        open_rows = out < 0
        if not open_rows.any():
            break
        out[open_rows & masks[rule.check]()] = k
    return out


def canonical_values(
    g: Parsed, customer: NDArray[np.object_], clean: NDArray[np.bool_]
) -> dict[str, Any]:
    """The clean rows of one group in canonical form, signed like the batch output."""
    completed = g.status[clean] == "completed"
    ts = g.order_ts[clean]
    ids = customer[g.rows][clean]
    kept = np.flatnonzero(clean)
    order_id = each(take(g.texts["order_id"], kept), trimmed)
    for i in np.flatnonzero(is_none(order_id)):  # as the SQL's synthetic id
        order_id[i] = f"{ids[i]}@{ts[i].astype(datetime).isoformat(timespec='seconds')}"
    amount, q = g.amount[clean], g.q[clean]
    return {
        "customer_id": ids,
        "order_id": order_id,
        "order_ts": ts,
        "amount": np.where(completed, amount, -np.abs(amount)),
        "status": g.status[clean],
        "quantity": np.where(completed, q, -np.abs(q)),  # NaN where not given
        "product_id": each(take(g.texts["product_id"], kept), trimmed),
        "category": each(take(g.texts["category"], kept), trimmed),
    }
