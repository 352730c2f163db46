"""SQL that maps source columns to the canonical schema and gives each line a verdict.

Both the batch stage (``ingest.ingest``) and the online check of API records
(``ingest.records``) run the SQL built here, so one rule set decides what is
clean. A line gets the first quarantine reason that applies, in the order of
:data:`REASONS`; a line with no reason is clean. Parsed values live in columns named
``__c_*`` so they never clash with source columns (an export may already use
canonical names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config.data import DataParams
from ingest.schema import STATUSES
from ingest.source import FILE_COL, ROW_COL, IngestError, ident, literal

REASONS: tuple[str, ...] = (
    "malformed_line",
    "missing_customer_id",
    "bad_timestamp",
    "implausible_timestamp",
    "bad_number",
    "implausible_amount",
    "unknown_status",
    "nonpositive_price",
    "duplicate_line",
    "non_product_code",
    "after_data_end",
)
_FLOATS = {"DOUBLE", "FLOAT", "REAL"}
_INTS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
_INTS |= {"UINTEGER", "UBIGINT", "UHUGEINT"}


@dataclass(frozen=True)
class Rule:
    """One quarantine check: its reason, check id, SQL condition and blamed column.

    ``check`` names the same test in the record validator
    (:mod:`ingest.record_checks`), so batch and API input share one ordered list.
    """

    reason: str
    check: str
    condition: str
    column: str


def _kind(dtype: str) -> str:
    """Coarse family of a DuckDB type name: text, int, float, decimal, ts, date, other."""
    if dtype == "VARCHAR":
        return "text"
    if dtype in _INTS:
        return "int"
    if dtype in _FLOATS:
        return "float"
    if dtype.startswith("DECIMAL"):
        return "decimal"
    if dtype.startswith("TIMESTAMP"):
        return "ts"
    return "date" if dtype == "DATE" else "other"


def text_expr(column: str, dtype: str) -> str:
    """Trimmed text, blank -> NULL; integral floats lose their ``.0`` (ids stored as float)."""
    col = ident(column)
    if _kind(dtype) == "float":
        return (
            f"CASE WHEN isfinite({col}) AND {col} = trunc({col}) AND abs({col}) < 1e18 "
            f"THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END"
        )
    return f"nullif(trim(CAST({col} AS VARCHAR)), '')"


def customer_expr(column: str, dtype: str) -> str:
    """Customer id as text; ``"17850.0"`` becomes ``"17850"`` so CRM ids still match."""
    base = text_expr(column, dtype)
    if _kind(dtype) != "text":
        return base
    return (
        f"CASE WHEN {base} LIKE '%.0' THEN regexp_replace({base}, '^(-?[0-9]+)\\.0+$', '\\1') "
        f"ELSE {base} END"
    )


def number_expr(column: str, dtype: str, decimal_separator: str) -> str:
    """A DOUBLE, NULL when the cell is blank or not a number (NaN/inf stay as parsed)."""
    col = ident(column)
    kind = _kind(dtype)
    if kind in ("int", "float", "decimal"):
        return f"CAST({col} AS DOUBLE)"
    text = col if kind == "text" else f"CAST({col} AS VARCHAR)"
    if decimal_separator == ",":
        text = f"replace({text}, ',', '.')"
    return f"TRY_CAST({text} AS DOUBLE)"


def blank_expr(column: str, dtype: str) -> str:
    """True when the cell is NULL or blank text."""
    col = ident(column)
    if _kind(dtype) == "text":
        return f"(nullif(trim({col}), '') IS NULL)"
    return f"({col} IS NULL)"


def timestamp_expr(column: str, dtype: str, date_format: str | None) -> str:
    """A naive TIMESTAMP, NULL when unparsable; typed timestamps/dates pass through."""
    col = ident(column)
    kind = _kind(dtype)
    if kind in ("ts", "date"):
        return f"CAST({col} AS TIMESTAMP)"
    if date_format is not None:
        return f"try_strptime(trim(CAST({col} AS VARCHAR)), {literal(date_format)})"
    if kind != "text":
        raise IngestError(
            f"order_ts column {column!r} has type {dtype}: set data.date_format "
            "(e.g. '%Y%m%d' for 20110131) to say how to read it"
        )
    # A text with an offset (longer than "YYYY-MM-DD HH:MM:SS") goes through TIMESTAMPTZ,
    # which applies the offset (TIMESTAMP would drop it); the session zone is UTC.
    text = f"trim({col})"
    return (
        f"CASE WHEN length({text}) <= 19 THEN TRY_CAST({text} AS TIMESTAMP) "
        f"ELSE CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) END"
    )


def mapped_status_expr(column: str, value_map: Mapping[str, str]) -> str:
    """The status column through ``value_map`` (canonical names map to themselves)."""
    mapping = {s: s for s in STATUSES} | dict(value_map)
    whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in mapping.items())
    return f"CASE lower(trim(coalesce(CAST({ident(column)} AS VARCHAR), ''))) {whens} END"


def non_product_expr(params: DataParams) -> str:
    """True for fee/postage/adjustment lines (codes list or regex on one column)."""
    rules = params.non_product_codes
    if rules.column is None or not (rules.codes or rules.regex):
        return "false"
    text = f"CAST({ident(rules.column)} AS VARCHAR)"
    tests = []
    if rules.codes:
        tests.append(f"trim({text}) IN ({', '.join(literal(c) for c in rules.codes)})")
    if rules.regex:
        tests.append(f"regexp_matches({text}, {literal(rules.regex)})")
    return f"coalesce({' OR '.join(tests)}, false)"


def data_end_bound(data_end: str | None) -> tuple[datetime, bool] | None:
    """``(bound, inclusive)``: lines at/after (inclusive) or after the bound are late.

    A date-only ``data_end`` includes that whole day, so the bound is the next midnight.
    """
    if data_end is None:
        return None
    end = datetime.fromisoformat(data_end)
    if len(data_end.strip()) <= 10:
        return end + timedelta(days=1), True
    return end.replace(tzinfo=None), False


def data_end_condition(data_end: str | None) -> str | None:
    """SQL for "after the declared end of data" (see :func:`data_end_bound`)."""
    bound = data_end_bound(data_end)
    if bound is None:
        return None
    op = ">=" if bound[1] else ">"
    return f"__c_order_ts {op} TIMESTAMP {literal(bound[0].isoformat(sep=' '))}"


def plausible_range(params: DataParams, now: datetime | None) -> tuple[datetime, datetime | None]:
    """``[data.min_date, now + data.future_tolerance_days]`` for order timestamps.

    The upper end is None when ``data_end`` is set: later lines are ``after_data_end``.
    ``now`` (naive UTC) defaults to the current time.
    """
    low = datetime.fromisoformat(params.min_date).replace(tzinfo=None)
    if params.data_end is not None:
        return low, None
    current = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    return low, current + timedelta(days=params.future_tolerance_days)


def implausible_ts_condition(params: DataParams, now: datetime | None) -> str:
    """SQL for "before ``min_date`` or after now + tolerance" (see :func:`plausible_range`)."""
    low, high = plausible_range(params, now)
    cond = f"__c_order_ts < TIMESTAMP {literal(low.isoformat(sep=' '))}"
    if high is not None:
        cond += f" OR __c_order_ts > TIMESTAMP {literal(high.isoformat(sep=' '))}"
    return f"({cond})"


def row_key(prefix: str = "") -> str:
    """One BIGINT per source line: file index in the high bits, row in the low 40."""
    return f"(CAST({prefix}{FILE_COL} AS BIGINT) << 40 | {prefix}{ROW_COL})"
