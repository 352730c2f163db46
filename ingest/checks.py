"""Parsing API record values as the batch SQL parses export cells.

A DuckDB query costs ~10 ms however few rows it sees, too slow for a scoring request,
so API records are parsed here instead: each parser is the batch SQL's cast written a
second time, value for value (``TRY_CAST(... AS DOUBLE)``, the TIMESTAMP/TIMESTAMPTZ
casts, ``nullif(trim(x), '')``). :func:`timestamps` parses a whole column at once: the
common ISO forms with numpy, anything else with :func:`timestamp`. The rules that use
these values are evaluated on columns in :mod:`ingest.record_checks`; a property test
(``tests/ingest/test_ingest_records.py``) runs random records through both paths and
requires identical verdicts and values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Text timestamps DuckDB's TIMESTAMP/TIMESTAMPTZ casts accept: Y-M-D with - or /,
# optional time (seconds, fraction), optional Z/UTC/+hh[:mm] offset.
_TS = re.compile(
    r"(\d{4,5})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?"
    r"(?:\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?))?"
)
_INTEGRAL_FLOAT_TEXT = re.compile(r"(-?[0-9]+)\.0+")


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


#: ``YYYY-MM-DDTHH:MM:SS`` with ``0`` where a digit goes; a fraction follows at 19.
_TEMPLATE = np.frombuffer(b"0000-00-00T00:00:00", np.uint8)
_DIGIT_AT = np.equal(_TEMPLATE, ord("0"))
#: Weights turning the first 26 digits into year, month, day, hour, minute, second, us.
_PLACES = np.zeros((26, 7))  # float: BLAS; every sum is an integer below 2**53
for _col, (_start, _width) in enumerate([(0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2),
                                         (20, 6)]):  # fmt: skip
    _PLACES[_start : _start + _width, _col] = 10 ** np.arange(_width - 1, -1, -1)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_DAYS_BEFORE_MONTH = np.concatenate([[0], np.cumsum(_DAYS_IN_MONTH[:-1])])
#: Days from 0001-01-01 to 1970-01-01 (proleptic Gregorian, as Python's datetime).
_EPOCH_ORDINAL = 719_162
_US_PER_DAY = 86_400_000_000
_NAT = np.datetime64("NaT", "us")


def _iso_fast(texts: list[str]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Which texts are plain ISO (``YYYY-MM-DD``, ``... HH:MM:SS``, ``....ffffff...``,
    with ``T`` or a space) with a real date and time; their microseconds since 1970.

    Fraction digits past the sixth are dropped, as :func:`timestamp` drops them.
    """
    n = len(texts)
    lengths = np.fromiter(map(len, texts), np.int64, n)
    codes = np.array(texts, dtype=str)
    width = codes.dtype.itemsize // 4
    if width < 10:
        return np.zeros(n, bool), np.zeros(n, np.int64)
    # code points (255 for anything not Latin-1), NUL-padded to at least 26
    grid = np.zeros((n, max(width, 26)), np.uint8)
    grid[:, :width] = np.minimum(codes.view(np.uint32).reshape(n, width), 255)
    is_digit = (grid >= 48) & (grid <= 57)
    head = grid[:, :19].copy()
    head[:, 10] = np.where(head[:, 10] == 32, 84, head[:, 10])  # "T" or " "
    fits = np.where(_DIGIT_AT, is_digit[:, :19], head == _TEMPLATE)
    ok = np.where(lengths == 10, fits[:, :10].all(axis=1), fits.all(axis=1))
    fraction = lengths >= 21
    ok &= (lengths == 10) | (lengths == 19) | fraction
    ok &= ~fraction | ((grid[:, 19] == 46) & (is_digit[:, 20:].sum(axis=1) == lengths - 20))
    digits = np.where(is_digit[:, :26], grid[:, :26] - 48.0, 0.0)
    parts = (digits @ _PLACES).astype(np.int64)
    year, month, day, hour, minute, second, micros = parts.T
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month = np.where((month >= 1) & (month <= 12), month, 0)  # 0: no month, fails below
    ok &= (year >= 1) & (month >= 1) & (day >= 1)
    ok &= day <= _DAYS_IN_MONTH[month] + ((month == 2) & leap)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    before = year - 1
    days = before * 365 + before // 4 - before // 100 + before // 400 - _EPOCH_ORDINAL
    days += _DAYS_BEFORE_MONTH[month] + ((month > 2) & leap) + day - 1
    seconds = (hour * 60 + minute) * 60 + second
    return ok, days * _US_PER_DAY + seconds * 1_000_000 + micros


def timestamps(values: Sequence[Any]) -> NDArray[np.datetime64]:
    """:func:`timestamp_value` of every value, as ``datetime64[us]`` (NaT: unparsable).

    Plain ISO texts (what JSON clients send) are parsed at once with numpy; every other
    value (offsets, ``/``, one-digit months, padding, datetimes) goes through
    :func:`timestamp_value`, so both give the same instant for every value.
    """
    out = np.full(len(values), _NAT)
    text_rows = [i for i, v in enumerate(values) if type(v) is str]
    fast = np.zeros(len(values), bool)
    if text_rows:
        ok, micros = _iso_fast([values[i] for i in text_rows])
        rows = np.asarray(text_rows, np.intp)
        out[rows[ok]] = micros[ok].view("datetime64[us]")
        fast[rows[ok]] = True
    for i in np.flatnonzero(~fast).tolist():
        parsed = timestamp_value(values[i])
        if parsed is not None:
            out[i] = np.datetime64(parsed, "us")
    return out
