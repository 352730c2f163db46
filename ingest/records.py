"""Validate a few canonical order records (API input) with the ingest rules.

``POST /v1/churn/score`` receives a customer's recent orders as JSON. They must pass
exactly the checks a batch export passes. :func:`validate_records` reads them into
columns and evaluates the ordered rule list of the batch SQL (:func:`ingest.rules.rules`)
as one numpy mask per check (:mod:`ingest.record_checks`): no per-call database and no
Python loop per record and rule. :func:`validate_records_sql` feeds the same records, as
text, through the batch SQL itself; it is the reference the fast path is tested against.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from config.data import ColumnMap, DataParams, NonProductCodes, PrefixRule, StatusRules
from ingest.checks import as_text
from ingest.record_checks import Columns, canonical_values, check_masks, parse_group, verdicts
from ingest.rules import canonical_columns, classified_sql, duplicate_keys_sql, rules
from ingest.schema import Status
from ingest.source import FILE_COL, ROW_COL

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
_FIELD_SET = frozenset(RECORD_FIELDS)
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


def _canonical(column: str | None, base: DataParams, fields: dict[str, str | None]) -> str | None:
    """The canonical field that ``base`` maps ``column`` to, when the records carry it."""
    if column is None:
        return None
    mapped = (k for k, v in base.columns.model_dump().items() if v == column and fields.get(k))
    return next(mapped, None)


def record_params(present: set[str], base: DataParams | None) -> DataParams:
    """Params for records: identity mapping, ``base``'s rules, status defaulting to completed."""
    fields: dict[str, str | None] = {f: f if f in present else None for f in RECORD_FIELDS}
    fields |= {"customer_id": "customer_id", "order_ts": "order_ts"}
    if not ("quantity" in present and "unit_price" in present):
        fields["amount"] = "amount"  # nothing to derive from: a missing amount is bad_number
    columns = ColumnMap.model_validate(fields)
    if base is None:
        return DataParams(
            source="<records>", columns=columns, status=StatusRules(value_map={"": "completed"})
        )
    value_map: dict[str, Status] = {**base.status.value_map, "": "completed"}
    prefix = base.status.cancelled_prefix
    prefix_col = _canonical(prefix.column, base, fields) if prefix else None
    codes = base.non_product_codes
    codes_col = _canonical(codes.column, base, fields)
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
        min_date=base.min_date,
        future_tolerance_days=base.future_tolerance_days,
        max_abs_amount=base.max_abs_amount,
    )


def _table(records: Sequence[Mapping[str, Any]], keep: list[int], fields: list[str]) -> pa.Table:
    """The kept records as an all-text table with file/row bookkeeping columns."""
    data: dict[str, pa.Array] = {
        FILE_COL: pa.array([0] * len(keep), pa.int64()),
        ROW_COL: pa.array([i + 1 for i in keep], pa.int64()),
    }
    for field in fields:
        data[field] = pa.array([as_text(records[i].get(field)) for i in keep], pa.string())
    return pa.table(data)


def _screen(records: Sequence[Any]) -> tuple[list[int], list[RecordError]]:
    """Indices of well-formed records, and errors for non-mappings and unknown fields."""
    if all(type(r) is dict for r in records) and set().union(*records) <= _FIELD_SET:
        return list(range(len(records))), []  # the usual request: nothing to reject
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


def validate_records_sql(
    records: Sequence[Mapping[str, Any]],
    data_params: DataParams | None = None,
    now: datetime | None = None,
) -> ValidatedRecords:
    """:func:`validate_records` through the batch SQL (reference; ~10 ms per field set)."""
    _, errors, groups, columns = _prepare(records, data_params)
    rows: list[dict[str, Any]] = []
    for present, keep in groups.items():
        params, fields = _setup(present, data_params)
        table = _table(records, keep, fields)
        cursor = _connection().cursor()
        try:
            cursor.register(_RELATION, table)
            dups = f"({duplicate_keys_sql(_RELATION, fields, None)})"
            dtypes = dict.fromkeys(fields, "VARCHAR")
            classified = classified_sql(params, dtypes, _RELATION, dups, now=now)
            cols = ", ".join(f"__c_{c} AS {c}" for c in canonical_columns(params))
            result = cursor.execute(
                f"SELECT {ROW_COL} - 1 AS idx, __c_reason AS reason, __c_reason_column AS field,"
                f" {cols} FROM ({classified}) ORDER BY {ROW_COL}"
            ).df()
        finally:
            cursor.close()
        rows.extend(_split(result, table, errors))
    rows.sort(key=lambda r: r["idx"])
    return ValidatedRecords(_rows_frame(rows, columns), sorted(errors, key=lambda e: e.index))


def _split(
    result: pd.DataFrame, table: pa.Table, errors: list[RecordError]
) -> list[dict[str, Any]]:
    """Append rejected rows to ``errors`` (naming each value); return the clean rows."""
    bad = result["reason"].notna().to_numpy()
    texts = {name: table.column(name).to_pylist() for name in table.column_names}
    rejected = zip(result["idx"], result["reason"], result["field"], bad, strict=True)
    for pos, (idx, reason, field, is_bad) in enumerate(rejected):
        if is_bad:
            value = texts[field][pos] if field in texts else None
            errors.append(RecordError(int(idx), str(field), str(reason), value))
    clean = result.loc[~bad].drop(columns=["reason", "field"])
    clean = clean.astype(object).where(clean.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


def _present(record: Mapping[str, Any]) -> frozenset[str]:
    """The fields a record gives a value for (a missing or ``null`` field is not given)."""
    return frozenset(str(k) for k, v in record.items() if v is not None)


class _Same:
    """A cache key holding ``value`` and equal only to a key of the very same object
    (params models hold dicts, so they cannot be hashed; a server passes one object)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


@functools.lru_cache(maxsize=256)
def _cached_params(present: frozenset[str], base: _Same) -> DataParams:
    value = base.value
    assert value is None or isinstance(value, DataParams)
    return record_params(set(present), value)


def _setup(present: frozenset[str], base: DataParams | None) -> tuple[DataParams, list[str]]:
    """Params and (identity-mapped) field list for records giving ``present`` fields."""
    params = _cached_params(present, _Same(base))
    return params, [f for f in RECORD_FIELDS if getattr(params.columns, f, None) == f]


def _prepare(
    records: Sequence[Any], data_params: DataParams | None
) -> tuple[list[int], list[RecordError], dict[frozenset[str], list[int]], list[str]]:
    """Screen records, group them by the fields they give, and name the output columns.

    Optional fields are optional per record: an order without ``quantity`` is checked
    as if the export had no quantity column, whatever the other orders carry.
    """
    keep, errors = _screen(records)
    groups: dict[frozenset[str], list[int]] = {}
    for i in keep:
        groups.setdefault(_present(records[i]), []).append(i)
    given = set().union(*groups) if groups else set()
    columns = canonical_columns(record_params(given, data_params))
    return keep, errors, groups, columns


_ARROW_TYPES: dict[str, pa.DataType] = {
    "order_ts": pa.timestamp("us"),
    "amount": pa.float64(),
    "quantity": pa.float64(),
}
_NUMPY_TYPES: dict[str, np.dtype[Any]] = {
    "order_ts": np.dtype("datetime64[us]"),
    "amount": np.dtype("float64"),
    "quantity": np.dtype("float64"),
}


def _rows_frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Clean rows (dicts) with the dtypes of ``orders.parquet`` read by pandas."""
    data = {
        col: pa.array([r.get(col) for r in rows], _ARROW_TYPES.get(col, pa.string()))
        for col in columns
    }
    return pa.table(data).to_pandas()


def _frame(
    parts: list[tuple[NDArray[np.intp], dict[str, Any]]], columns: list[str]
) -> pd.DataFrame:
    """Clean rows (in input order) with the dtypes of ``orders.parquet`` read by pandas.

    Built through Arrow, as reading ``orders.parquet`` does.
    """
    index = np.concatenate([rows for rows, _ in parts]) if parts else np.empty(0, np.intp)
    order = np.argsort(index, kind="stable")
    data = {}
    for col in columns:
        kind = _ARROW_TYPES.get(col, pa.string())
        values = [part[col] for _, part in parts]
        if kind == pa.string():
            joined = np.concatenate(values) if values else np.empty(0, object)
        else:
            joined = np.concatenate(values) if values else np.empty(0, _NUMPY_TYPES[col])
        data[col] = pa.array(joined[order], kind, from_pandas=True)
    return pa.table(data).to_pandas()


def validate_records(
    records: Sequence[Mapping[str, Any]],
    data_params: DataParams | None = None,
    now: datetime | None = None,
) -> ValidatedRecords:
    """Check API order records with the ingest rules; return clean rows and errors.

    Parameters
    ----------
    records
        Dicts with ``customer_id``, ``order_ts`` (ISO string or datetime), ``amount``
        or ``quantity`` + ``unit_price``, and optionally ``order_id``, ``product_id``,
        ``category``, ``status`` (default ``completed``). Other keys are errors.
        Optional fields are optional per record: a missing or ``None`` field is
        checked as if the export had no such column (another record's ``quantity``
        does not make it required).
    data_params
        The ``data`` params whose status value map, cancelled prefix and non-product
        codes (when their column maps to a canonical field), ``data_end`` and the
        plausibility bounds (``min_date``, ``future_tolerance_days``,
        ``max_abs_amount``) apply.
    now
        Naive UTC "now" for the plausible-timestamp bound (default: the current time).

    Returns
    -------
    ValidatedRecords
        ``frame``: clean records in the canonical schema of ``orders.parquet``, in input
        order (``quantity``/``product_id``/``category`` only when some record has them);
        ``errors``: one :class:`RecordError` per rejected record, sorted by index.
    """
    keep, errors = _screen(records)
    now = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    kept = Columns.read([records[i] for i in keep], RECORD_FIELDS)
    groups = kept.groups()
    columns = canonical_columns(_setup(frozenset().union(*groups), data_params)[0])
    dup = kept.duplicates()
    parts = []
    for present, rows in groups.items():
        params, _ = _setup(present, data_params)
        group = parse_group(params, kept, rows)
        ordered = rules(params, now)
        masks = check_masks(params, group, kept.customer_id[rows], dup[rows], now)
        failed = verdicts(ordered, masks, len(rows))
        for k in np.flatnonzero(failed >= 0).tolist():
            rule = ordered[failed[k]]
            value = group.texts[rule.column][k] if rule.column in group.texts else None
            errors.append(RecordError(keep[int(rows[k])], rule.column, rule.reason, value))
        clean = failed < 0
        parts.append((rows[clean], canonical_values(group, kept.customer_id, clean)))
    frame = _frame(parts, columns)
    return ValidatedRecords(frame, sorted(errors, key=lambda e: e.index))
