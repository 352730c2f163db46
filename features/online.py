"""Online features: one or a few customers' raw orders, scored as of a moment.

The feature definitions of the batch stage are evaluated in-process on the posted rows
(:mod:`features.inprocess`, numpy; no database round-trip), equal to the batch engine
to the bit (tested, including a hypothesis test over random order histories). A catalog
feature that :mod:`features.inprocess` does not compute yet makes the call fall back to
the batch Ibis expression compiled to DuckDB SQL, prepared once per thread and run on an
in-memory connection holding only the posted rows: slower, never different.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from config.features import FeatureParams
from features.catalog import feature_names
from features.engines import compiled_sql, connect_duckdb, cutoff_frame, finalize, output_schema
from features.expressions import CUTOFFS_TABLE, ORDERS_TABLE
from features.inprocess import COMPUTED, features_for
from features.online_signals import canonical_signals, naive_utc
from features.signals import unbound_signals
from ingest.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, STATUSES
from ingest.signal_schema import SIGNAL_COLUMNS, marker

logger = logging.getLogger(__name__)
_STATUSES = frozenset(STATUSES)
_local = threading.local()
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
}
_STATEMENT = "online_features"
#: The pandas dtype :func:`_coerce` gives each canonical kind (``str``: pandas' default).
_CANONICAL_DTYPES = {
    "timestamp": np.dtype("datetime64[us]"),
    "float64": np.dtype("float64"),
    "string": pd.StringDtype(na_value=np.nan),
}


class _Session:
    """One thread's DuckDB connection holding the prepared feature query.

    The query is compiled once (Ibis, cached) and PREPAREd once; each call only swaps
    the rows of the ``orders`` and ``cutoffs`` tables and EXECUTEs it. The optimizer
    is off: on a few hundred rows planning costs far more than it saves, and plans do
    not change results (sums are exact integers).
    """

    def __init__(self, params: FeatureParams, columns: frozenset[str]) -> None:
        self.columns = columns
        self.names = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in columns]
        types = {**REQUIRED_COLUMNS, **OPTIONAL_COLUMNS}
        self.con = connect_duckdb(params)
        self.con.execute("SET threads = 1")
        self.con.execute("PRAGMA disable_optimizer")
        cols = ", ".join(f'"{c}" {_DUCKDB_TYPES[types[c]]}' for c in self.names)
        self.con.execute(f"CREATE TEMP TABLE {ORDERS_TABLE} ({cols})")
        self.con.execute(f"CREATE TEMP TABLE {CUTOFFS_TABLE} (cutoff TIMESTAMP, cutoff_s BIGINT)")
        self.signals = list(unbound_signals(columns))  # issue 14: signal tables read
        for table in self.signals:
            kinds = SIGNAL_COLUMNS[table]
            typed = ", ".join(f'"{c}" {_DUCKDB_TYPES[k]}' for c, k in kinds.items())
            self.con.execute(f"CREATE TEMP TABLE {table} ({typed})")
        sql = compiled_sql(params, columns, labelled=False, population_only=False)
        self.con.execute(f"PREPARE {_STATEMENT} AS {sql}")

    def run(
        self,
        frame: pd.DataFrame,
        cutoff: pd.Timestamp,
        signals: dict[str, pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """Features for ``frame`` (canonical, this session's columns) at ``cutoff``."""
        con = self.con
        for table in self.signals:  # issue 14: the posted signal rows (maybe none)
            con.execute(f"DELETE FROM {table}")
            rows = (signals or {})[table]
            con.register("incoming_signal", pa.Table.from_pandas(rows, preserve_index=False))
            try:
                con.execute(f"INSERT INTO {table} SELECT * FROM incoming_signal")
            finally:
                con.unregister("incoming_signal")
        con.execute(f"DELETE FROM {ORDERS_TABLE}")
        con.execute(f"DELETE FROM {CUTOFFS_TABLE}")
        con.register(
            "incoming_orders", pa.Table.from_pandas(frame[self.names], preserve_index=False)
        )
        con.register(
            "incoming_cutoffs", pa.Table.from_pandas(cutoff_frame([cutoff]), preserve_index=False)
        )
        try:
            con.execute(f"INSERT INTO {ORDERS_TABLE} SELECT * FROM incoming_orders")
            con.execute(f"INSERT INTO {CUTOFFS_TABLE} SELECT * FROM incoming_cutoffs")
        finally:
            con.unregister("incoming_orders")
            con.unregister("incoming_cutoffs")
        result = con.execute(f"EXECUTE {_STATEMENT}").fetch_df()
        return finalize(
            pa.Table.from_pandas(result, preserve_index=False), self.columns, labelled=False
        )


def _session(params: FeatureParams, columns: frozenset[str]) -> _Session:
    """This thread's session for (params, columns), created on first use."""
    sessions: dict[tuple[FeatureParams, frozenset[str]], _Session] | None = getattr(
        _local, "sessions", None
    )
    if sessions is None:
        sessions = {}
        _local.sessions = sessions
    key = (params, columns)
    if key not in sessions:
        sessions[key] = _Session(params, columns)
    return sessions[key]


def _bad_rows(mask: pd.Series) -> str:
    rows = mask[mask].index[:5].tolist()
    return ", ".join(str(r) for r in rows)


def _coerce(frame: pd.DataFrame, column: str, kind: str) -> pd.Series:
    """Column ``column`` as canonical type ``kind``; raises naming bad rows."""
    raw = frame[column]
    values: pd.Series
    if raw.dtype == _CANONICAL_DTYPES[kind]:  # already canonical (validated API orders)
        values = raw
    elif kind == "timestamp":
        values = naive_utc(raw)
    elif kind == "float64":
        values = raw if raw.dtype == "float64" else pd.to_numeric(raw, errors="coerce")
        values = values.astype("float64")
    else:
        values = raw.astype("str")
        present = raw.notna()
        if not present.all():
            values = values.where(present)
    missing = values.isna()
    if not missing.any():
        return values
    bad = missing & (raw.notna() | (column in REQUIRED_COLUMNS))
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
    columns_out = {c: _coerce(frame, c, kind) for c, kind in REQUIRED_COLUMNS.items()}
    for c in optional:
        if c in frame.columns:
            columns_out[c] = _coerce(frame, c, OPTIONAL_COLUMNS[c])
        else:
            columns_out[c] = pd.Series(
                None, index=frame.index, dtype=OPTIONAL_COLUMNS[c].replace("string", "str")
            )
    out = pd.DataFrame(columns_out, index=frame.index)
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
    signals: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
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
        columns present in ``orders``. Signal-table markers (``signal:<table>``) in it
        add that table's features.
    signals
        Posted signal events per table, canonical columns
        (:mod:`features.online_signals`); a table the model reads but nothing was
        posted for counts as no events.

    Returns
    -------
    The columns of ``latest.parquet`` (``customer_id``, ``cutoff``, active features),
    one row per customer with at least one completed order before ``as_of``. Unlike
    the batch population, the lookback is not applied: a lapsed customer still gets
    features.
    """
    frame = canonical_orders(orders, columns)
    markers = {marker(t) for t in SIGNAL_COLUMNS if columns is not None and marker(t) in columns}
    present = frozenset(frame.columns) | markers
    tables = canonical_signals(signals, present)
    cutoff = pd.Timestamp(as_of)
    if cutoff.tzinfo is not None:
        cutoff = cutoff.tz_convert("UTC").tz_localize(None)
    names = feature_names(present)
    if not set(names) <= COMPUTED:  # signal-table features run on the DuckDB path
        logger.debug("online features %s not in-process: DuckDB", sorted(set(names) - COMPUTED))
        return _session(params, present).run(frame, cutoff, tables)
    return _in_process(frame, cutoff, params, present, names)


def _in_process(
    frame: pd.DataFrame,
    cutoff: pd.Timestamp,
    params: FeatureParams,
    present: frozenset[str],
    names: list[str],
) -> pd.DataFrame:
    """:func:`features.inprocess.features_for`, shaped as the batch engine's frame."""
    # as engines.cutoff_frame: whole seconds, in microseconds (far dates overflow ns)
    stamp = cutoff.asm8.astype("datetime64[us]").astype("datetime64[s]").astype("datetime64[us]")
    seconds = int(stamp.astype("datetime64[s]").astype(np.int64))
    ids, values = features_for(frame, seconds, params, names)
    schema = output_schema(present, labelled=False)
    columns = {"customer_id": ids, "cutoff": np.repeat(stamp, len(ids)), **values}
    arrays = [pa.array(columns[f.name], type=f.type, from_pandas=True) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema).to_pandas()
