"""Online features: one or a few customers' raw orders, scored as of a moment.

The same Ibis expression as the batch stage, compiled once to DuckDB SQL (cached) and
run on an in-memory DuckDB connection holding only the posted rows, so a request costs
milliseconds and cannot drift from the batch definition.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

import duckdb
import pandas as pd

from features.config import FeatureParams, Status
from features.engines import compiled_sql, connect_duckdb, run_sql
from features.expressions import OPTIONAL_COLUMNS, ORDERS_TABLE, REQUIRED_COLUMNS

_STATUSES = frozenset(get_args(Status))
_local = threading.local()


def _connection(params: FeatureParams) -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per thread (registered views are per connection)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = connect_duckdb(params)
        # A request holds a few hundred rows: one thread avoids scheduling overhead.
        con.execute("SET threads = 1")
        _local.con = con
    return con


def _bad_rows(mask: pd.Series) -> str:
    rows = mask[mask].index[:5].tolist()
    return ", ".join(str(r) for r in rows)


def _coerce(frame: pd.DataFrame, column: str, kind: str) -> pd.Series:
    """Column ``column`` as canonical type ``kind``; raises naming bad rows."""
    raw = frame[column]
    values: pd.Series
    if kind == "timestamp":
        values = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        values = values.astype("datetime64[us]")
    elif kind == "float64":
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
    else:
        values = raw.astype("str").where(raw.notna())
    bad = values.isna() & (raw.notna() | (column in REQUIRED_COLUMNS))
    if bad.any():
        raise ValueError(
            f"orders column '{column}': missing or not a {kind} in row(s) {_bad_rows(bad)}"
        )
    return values


def canonical_orders(
    orders: pd.DataFrame | Sequence[Mapping[str, Any]], columns: Collection[str] | None = None
) -> pd.DataFrame:
    """Validate posted orders into the canonical schema.

    Optional columns absent from ``orders`` but named in ``columns`` are added as
    missing values; optional columns not in ``columns`` are dropped.

    Raises
    ------
    ValueError
        Naming the column (and rows) that are missing or of the wrong type.
    """
    frame = pd.DataFrame(list(orders)) if not isinstance(orders, pd.DataFrame) else orders
    frame = frame.reset_index(drop=True)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"orders lack required field(s): {', '.join(missing)}")
    wanted = set(frame.columns) if columns is None else set(columns)
    optional = [c for c in OPTIONAL_COLUMNS if c in wanted]
    out = pd.DataFrame(
        {c: _coerce(frame, c, kind) for c, kind in REQUIRED_COLUMNS.items()}, index=frame.index
    )
    for c in optional:
        if c in frame.columns:
            out[c] = _coerce(frame, c, OPTIONAL_COLUMNS[c])
        else:
            out[c] = pd.Series(
                None, index=frame.index, dtype=OPTIONAL_COLUMNS[c].replace("string", "str")
            )
    bad_status = ~out["status"].isin(_STATUSES)
    if bad_status.any():
        raise ValueError(
            f"orders column 'status' must be one of {sorted(_STATUSES)}; "
            f"bad row(s) {_bad_rows(bad_status)}"
        )
    return out


def build_online(
    orders: pd.DataFrame | Sequence[Mapping[str, Any]],
    as_of: datetime | pd.Timestamp | str,
    params: FeatureParams,
    *,
    columns: Collection[str] | None = None,
) -> pd.DataFrame:
    """Features as of ``as_of`` for the customers in ``orders``.

    Parameters
    ----------
    orders
        Canonical order lines (records or a DataFrame) of one or a few customers:
        ``customer_id``, ``order_id``, ``order_ts``, ``amount``, ``status`` and any of
        ``quantity``, ``product_id``, ``category``. Rows at or after ``as_of`` are
        ignored (they cannot leak into features).
    as_of
        The cutoff ``T`` (naive UTC, or tz-aware and converted to naive UTC).
    params
        The ``features`` params used by the batch stage.
    columns
        Canonical columns the model's feature set was built from (e.g. those of the
        latest snapshot), so the output has the same feature columns; default: the
        columns present in ``orders``.

    Returns
    -------
    The columns of ``latest.parquet`` (``customer_id``, ``cutoff``, active features),
    one row per customer with at least one completed order before ``as_of``. Unlike
    the batch population, the lookback is not applied: a lapsed customer still gets
    features.
    """
    frame = canonical_orders(orders, columns)
    present = frozenset(frame.columns)
    cutoff = pd.Timestamp(as_of)
    if cutoff.tzinfo is not None:
        cutoff = cutoff.tz_convert("UTC").tz_localize(None)
    sql = compiled_sql(params, present, labelled=False, population_only=False)
    con = _connection(params)
    con.register(ORDERS_TABLE, frame)
    try:
        return run_sql(con, sql, [cutoff], present, labelled=False)
    finally:
        con.unregister(ORDERS_TABLE)
