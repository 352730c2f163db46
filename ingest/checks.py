"""The ingest rules evaluated in plain Python, for a handful of API records.

A DuckDB query costs ~10 ms however few rows it sees, too slow for a scoring request,
so records are checked here instead. The ordered rule list is still the one the batch
SQL uses (:func:`ingest.rules.rules`); only each check's test is written a
second time, value for value, next to the SQL in :mod:`ingest.sql`. A property
test (``tests/features/test_ingest_records.py``) runs random records through both and
requires identical verdicts and values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from config.data import DataParams
from ingest.schema import STATUSES
from ingest.sql import data_end_bound, plausible_range

# Text timestamps DuckDB's TIMESTAMP/TIMESTAMPTZ casts accept: Y-M-D with - or /,
# optional time (seconds, fraction), optional Z/UTC/+hh[:mm] offset.
_TS = re.compile(
    r"(\d{4,5})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?"
    r"(?:\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?))?"
)
_INTEGRAL_FLOAT_TEXT = re.compile(r"(-?[0-9]+)\.0+")
_CANONICAL_STATUS: dict[str, str] = {s: s for s in STATUSES}


def as_text(value: Any) -> str | None:
    """A record value as the text a CSV cell would hold (None stays missing)."""
    if value is None:
        return None
    if type(value) is str:  # the usual case (JSON text): skip the isinstance chain
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    # float(...) first: repr of a numpy float64 is "np.float64(1.5)", not "1.5"
    return repr(float(value)) if isinstance(value, float) else str(value)


def trimmed(text: str | None) -> str | None:
    """SQL ``nullif(trim(x), '')``: spaces (only) stripped, blank -> None."""
    if text is None:
        return None
    return text.strip(" ") or None


def customer_id(text: str | None) -> str | None:
    """Trimmed id with an integral ``.0`` suffix dropped (as :func:`customer_expr`)."""
    value = trimmed(text)
    if value is not None and value.endswith(".0"):
        match = _INTEGRAL_FLOAT_TEXT.fullmatch(value)
        return match.group(1) if match else value
    return value


def number(text: str | None) -> float | None:
    """DuckDB ``TRY_CAST(text AS DOUBLE)``: None when not a number; nan/inf kept."""
    if text is None or not text.isascii():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def timestamp(text: str | None) -> datetime | None:
    """A naive UTC datetime from ISO-like text, None when unparsable."""
    match = _TS.fullmatch(text.strip(" ")) if text is not None else None
    if match is None:
        return None
    year, _, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micros,
        )
    except ValueError:
        return None
    if offset and offset not in ("Z", "UTC"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        parsed -= sign * shift
    return parsed


def timestamp_value(value: Any) -> datetime | None:
    """A record's ``order_ts``: datetimes pass (aware ones become naive UTC), text is parsed."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return timestamp(as_text(value))


@dataclass
class Line:
    """One record parsed like the ``__c_*`` columns of the batch SQL."""

    texts: dict[str, str | None]
    customer_id: str | None
    order_ts: datetime | None
    q: float | None
    p: float | None
    amount_raw: float | None
    status: str | None
    fee: bool
    dup: bool = False


def _status(
    params: DataParams, texts: dict[str, str | None], line_q: float | None, raw: float | None
) -> str | None:
    """Cancelled prefix, mapped returned/cancelled, negative sign, else completed."""
    m = params.columns
    prefix = params.status.cancelled_prefix
    if prefix and (texts.get(prefix.column) or "").startswith(prefix.prefix):
        return "cancelled"
    mapped = None
    if m.status:
        key = (texts.get(m.status) or "").strip(" ").lower()
        value_map = params.status.value_map  # wins over the canonical names themselves
        mapped = value_map[key] if key in value_map else _CANONICAL_STATUS.get(key)
        if mapped is None:
            return None
        if mapped in ("returned", "cancelled"):
            return mapped
    if params.status.negative_quantity_is_return:
        sign = line_q if m.quantity else raw
        if sign is not None and sign < 0:
            return "returned"
    return "completed"


def _fee(params: DataParams, texts: dict[str, str | None]) -> bool:
    """Non-product code test on the configured column (codes list or regex search)."""
    rules = params.non_product_codes
    text = texts.get(rules.column) if rules.column else None
    if text is None:
        return False
    return (bool(rules.codes) and text.strip(" ") in rules.codes) or bool(
        rules.regex and re.search(rules.regex, text)
    )


def _amount(
    params: DataParams, texts: dict[str, str | None], q: float | None, p: float | None
) -> float | None:
    """The amount, or quantity x unit_price when unmapped or blank (as ``_amount_expr``)."""
    m = params.columns
    derived = q * p if m.quantity and m.unit_price and q is not None and p is not None else None
    if m.amount is None:
        return derived
    if trimmed(texts.get(m.amount)) is None and m.quantity and m.unit_price:
        return derived
    return number(texts.get(m.amount))


def parse_line(params: DataParams, record: Mapping[str, Any], fields: list[str]) -> Line:
    """Parse one record whose keys are the (identity-mapped) source columns."""
    m = params.columns
    texts = {f: as_text(record.get(f)) for f in fields}
    q = number(texts.get(m.quantity)) if m.quantity else None
    p = number(texts.get(m.unit_price)) if m.unit_price else None
    raw = _amount(params, texts, q, p)
    return Line(
        texts=texts,
        customer_id=customer_id(texts[m.customer_id]),
        order_ts=timestamp_value(record.get(m.order_ts)),
        q=q,
        p=p,
        amount_raw=raw,
        status=_status(params, texts, q, raw),
        fee=_fee(params, texts),
    )


def _bad(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def checks(params: DataParams, now: datetime | None = None) -> dict[str, Callable[[Line], bool]]:
    """Python twin of each :class:`~ingest.sql.Rule` condition, by check id."""
    bound = data_end_bound(params.data_end)
    low, high = datetime.min, datetime.max
    earliest, latest = plausible_range(params, now)

    def implausible_ts(line: Line) -> bool:
        assert line.order_ts is not None
        return line.order_ts < earliest or (latest is not None and line.order_ts > latest)

    def after_end(line: Line) -> bool:
        assert bound is not None and line.order_ts is not None
        return line.order_ts >= bound[0] if bound[1] else line.order_ts > bound[0]

    def sale(line: Line) -> bool:
        return line.status == "completed"

    return {
        "customer": lambda line: line.customer_id is None,
        "timestamp": lambda line: line.order_ts is None or not low <= line.order_ts <= high,
        "plausible_ts": implausible_ts,
        "plausible_amount": lambda line: abs(line.amount_raw or 0.0) > params.max_abs_amount,
        "quantity": lambda line: _bad(line.q),
        "unit_price": lambda line: _bad(line.p),
        "amount": lambda line: _bad(line.amount_raw),
        "status": lambda line: line.status is None,
        "price_sign": lambda line: sale(line) and (line.p or 0.0) <= 0,
        "amount_sign": lambda line: sale(line) and (line.amount_raw or 0.0) <= 0,
        "duplicate": lambda line: line.dup,
        "non_product": lambda line: line.fee,
        "after_end": after_end,
    }
