"""Posted signal events for the online path (issue 14): validated into canonical tables.

``POST /v1/churn/score`` may carry a customer's tickets, interactions, contracts,
invoices and usage events beside the orders, in the canonical columns of
:data:`ingest.signal_schema.SIGNAL_COLUMNS` (``is_complaint``, ``inbound`` and
``auto_renew`` as booleans). The online feature query then reads them exactly as the
batch query reads the ingested tables.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd

from ingest.signal_schema import SIGNAL_COLUMNS, marker, required

_PANDAS = {"string": "object", "float64": "float64", "boolean": "boolean"}


def naive_utc(raw: pd.Series) -> pd.Series:
    """ISO-8601 text or timestamps as naive UTC ``datetime64[us]``; unparseable -> NaT
    (the caller names the bad rows)."""
    values = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[us]")


def _column(frame: pd.DataFrame, table: str, column: str, kind: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=_PANDAS.get(kind, "object"))
    raw = frame[column]
    values: pd.Series
    if kind == "timestamp":
        values = naive_utc(raw)
    elif kind == "float64":
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
    elif kind == "boolean":
        values = raw.map(lambda v: v if isinstance(v, bool) else None).astype("boolean")
    else:
        values = raw.astype("str").where(raw.notna())
    bad = values.isna() & raw.notna()
    if bad.any():
        rows = ", ".join(str(r) for r in bad[bad].index[:5])
        raise ValueError(f"signals.{table} field '{column}': not a {kind} in row(s) {rows}")
    return values


def canonical_signal(table: str, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One posted signal table in canonical columns and types; ValueError names the row."""
    frame = pd.DataFrame(list(records)).reset_index(drop=True)
    unknown = sorted(set(frame.columns) - set(SIGNAL_COLUMNS[table]))
    if unknown:
        raise ValueError(f"signals.{table}: unknown field(s) {unknown}")
    out = pd.DataFrame(index=frame.index)
    for column, kind in SIGNAL_COLUMNS[table].items():
        out[column] = _column(frame, table, column, kind)
    for column in required(table):
        if column in SIGNAL_COLUMNS[table] and out[column].isna().any():
            rows = ", ".join(str(r) for r in out.index[out[column].isna()][:5])
            raise ValueError(f"signals.{table} field '{column}': missing in row(s) {rows}")
    return out


def canonical_signals(
    signals: Mapping[str, Sequence[Mapping[str, Any]]] | None, columns: Collection[str]
) -> dict[str, pd.DataFrame]:
    """Every signal table the model reads (its marker in ``columns``): posted rows or none.

    A table the model does not read is refused (naming it), so a caller learns that its
    events have no effect instead of believing they counted.
    """
    posted = dict(signals or {})
    unread = sorted(t for t in posted if marker(t) not in columns)
    if unread:
        raise ValueError(f"signals: the model reads no {', '.join(unread)} table(s)")
    return {
        table: canonical_signal(table, posted.get(table, []))
        for table in SIGNAL_COLUMNS
        if marker(table) in columns
    }
