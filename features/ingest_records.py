"""Validate a few canonical order records (API input) with the ingest rules.

``POST /v1/churn/score`` receives a customer's recent orders as JSON. They must pass
exactly the checks a batch export passes, so this module feeds them, as text, through
the same SQL (:mod:`features.ingest_rules`) with an identity column mapping. A cached
in-memory DuckDB connection keeps a call to a few milliseconds; each call works on its
own cursor, so concurrent requests do not share state.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import duckdb
import pandas as pd
import pyarrow as pa

from features.config import (
    ColumnMap,
    DataParams,
    NonProductCodes,
    PrefixRule,
    Status,
    StatusRules,
)
from features.ingest_rules import canonical_columns, classified_sql, duplicate_keys_sql
from features.ingest_source import FILE_COL, ROW_COL

RECORD_FIELDS: tuple[str, ...] = (
    "customer_id",
    "order_id",
    "order_ts",
    "amount",
    "quantity",
    "unit_price",
    "product_id",
    "category",
    "status",
)
_RELATION = "api_records"


@dataclass(frozen=True)
class RecordError:
    """Why record ``index`` (0-based position in the request) was rejected."""

    index: int
    field: str
    reason: str
    value: str | None = None


class ValidatedRecords(NamedTuple):
    """Clean records in canonical form, and one error per rejected record."""

    frame: pd.DataFrame
    errors: list[RecordError]


@functools.cache
def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory database per process; callers take their own cursor."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _as_text(value: Any) -> str | None:
    """A record value as the text a CSV export would hold (None stays missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None if value is None else "nan"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def _canonical(column: str | None, base: DataParams) -> str | None:
    """The canonical field a source column of ``base`` is mapped to, if any."""
    if column is None:
        return None
    return next((k for k, v in base.columns.model_dump().items() if v == column), None)


def record_params(present: set[str], base: DataParams | None) -> DataParams:
    """Params for records: identity mapping, ``base``'s rules, status defaulting to completed."""
    fields = dict.fromkeys(RECORD_FIELDS[2:], None) | {f: f for f in present}
    if not ("quantity" in present and "unit_price" in present):
        fields["amount"] = "amount"  # nothing to derive from: a missing amount is bad_number
    columns = ColumnMap(customer_id="customer_id", order_ts="order_ts", **fields)
    if base is None:
        return DataParams(
            source="<records>", columns=columns, status=StatusRules(value_map={"": "completed"})
        )
    value_map: dict[str, Status] = {**base.status.value_map, "": "completed"}
    prefix = base.status.cancelled_prefix
    prefix_col = _canonical(prefix.column, base) if prefix else None
    codes = base.non_product_codes
    codes_col = _canonical(codes.column, base)
    return DataParams(
        source="<records>",
        columns=columns,
        status=StatusRules(
            cancelled_prefix=PrefixRule(column=prefix_col, prefix=prefix.prefix)
            if prefix and prefix_col
            else None,
            value_map=value_map,
            negative_quantity_is_return=base.status.negative_quantity_is_return,
        ),
        non_product_codes=NonProductCodes(column=codes_col, codes=codes.codes, regex=codes.regex)
        if codes_col
        else NonProductCodes(),
        data_end=base.data_end,
    )


def _table(records: Sequence[Mapping[str, Any]], keep: list[int], fields: list[str]) -> pa.Table:
    """The kept records as an all-text table with file/row bookkeeping columns."""
    data: dict[str, pa.Array] = {
        FILE_COL: pa.array([0] * len(keep), pa.int64()),
        ROW_COL: pa.array([i + 1 for i in keep], pa.int64()),
    }
    for field in fields:
        data[field] = pa.array([_as_text(records[i].get(field)) for i in keep], pa.string())
    return pa.table(data)


def _screen(records: Sequence[Any]) -> tuple[list[int], list[RecordError]]:
    """Indices of well-formed records, and errors for non-mappings and unknown fields."""
    keep, errors = [], []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            errors.append(RecordError(i, "*", "not_a_record", type(record).__name__))
            continue
        unknown = sorted(str(k) for k in record if k not in RECORD_FIELDS)
        if unknown:
            errors.append(RecordError(i, unknown[0], "unknown_field"))
            continue
        keep.append(i)
    return keep, errors


def validate_records(
    records: Sequence[Mapping[str, Any]], data_params: DataParams | None = None
) -> ValidatedRecords:
    """Check API order records with the ingest rules; return clean rows and errors.

    Parameters
    ----------
    records
        Dicts with ``customer_id``, ``order_ts`` (ISO string or datetime), ``amount``
        or ``quantity`` + ``unit_price``, and optionally ``order_id``, ``product_id``,
        ``category``, ``status`` (default ``completed``). Other keys are errors.
    data_params
        The ``data`` params whose status value map, cancelled prefix and non-product
        codes (when their column maps to a canonical field) and ``data_end`` apply.

    Returns
    -------
    ValidatedRecords
        ``frame``: clean records in the canonical schema of ``orders.parquet``, in input
        order (``quantity``/``product_id``/``category`` only when some record has them);
        ``errors``: one :class:`RecordError` per rejected record, sorted by index.
    """
    keep, errors = _screen(records)
    present = {f for i in keep for f in records[i]}
    params = record_params(present, data_params)
    fields = [f for f in RECORD_FIELDS if getattr(params.columns, f, None) == f]
    table = _table(records, keep, fields)
    cursor = _connection().cursor()
    try:
        cursor.register(_RELATION, table)
        dups = f"({duplicate_keys_sql(_RELATION, fields, None)})"
        classified = classified_sql(params, dict.fromkeys(fields, "VARCHAR"), _RELATION, dups)
        cols = ", ".join(f"__c_{c} AS {c}" for c in canonical_columns(params))
        result = cursor.execute(
            f"SELECT {ROW_COL} - 1 AS idx, __c_reason AS reason, __c_reason_column AS field, "
            f"{cols} FROM ({classified}) ORDER BY {ROW_COL}"
        ).df()
    finally:
        cursor.close()
    return _split(result, table, errors)


def _split(result: pd.DataFrame, table: pa.Table, errors: list[RecordError]) -> ValidatedRecords:
    """Separate clean rows from rejected ones and name each rejection's value."""
    bad = result["reason"].notna().to_numpy()
    texts = {name: table.column(name).to_pylist() for name in table.column_names}
    rejected = zip(result["idx"], result["reason"], result["field"], bad, strict=True)
    for pos, (idx, reason, field, is_bad) in enumerate(rejected):
        if is_bad:
            value = texts[field][pos] if field in texts else None
            errors.append(RecordError(int(idx), str(field), str(reason), value))
    clean = result.loc[~bad].drop(columns=["idx", "reason", "field"]).reset_index(drop=True)
    return ValidatedRecords(clean, sorted(errors, key=lambda e: e.index))
