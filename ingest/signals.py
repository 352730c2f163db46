"""Ingest the optional signal tables (``signals`` in params): map, validate, quarantine.

Each mapped table (tickets, interactions, contracts, invoices, usage) is read exactly
like the orders: a file or glob through the same CSV reader and ``data.csv_*`` dialect
(or Parquet), or a SQL query on a database streamed to Parquet first
(:mod:`ingest.database`). Every row ends in ``<dir>/<table>.parquet`` (canonical
columns, :data:`ingest.signal_schema.SIGNAL_COLUMNS`) or in
``<dir>/<table>.quarantine.parquet`` (the source cells as text, a reason from
:data:`ingest.signal_schema.SIGNAL_REASONS`, the blamed column, file and row), and the
report accounts for each table: rows in = clean + quarantined. ``<dir>/manifest.json``
lists the tables present, so the features stage knows which features it can build.
"""

from __future__ import annotations

import json
import logging
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb

from config.data import ColumnMap, DatabaseSource, DataParams, NonProductCodes, StatusRules
from config.signals import (
    ContractsTable,
    InteractionsTable,
    SignalsParams,
    SignalTable,
    TicketsTable,
)
from ingest.csvread import MALFORMED_COL
from ingest.database import materialise, redacted
from ingest.signal_schema import MAPPABLE, ORDERED_PAIRS, SIGNAL_COLUMNS, SIGNAL_REASONS
from ingest.source import FILE_COL, ROW_COL, IngestError, Source, ident, literal, open_source
from ingest.sql import _kind, blank_expr, customer_expr, number_expr, text_expr, timestamp_expr

logger = logging.getLogger(__name__)
MANIFEST = "manifest.json"
_DUCK = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "float64": "DOUBLE", "boolean": "BOOLEAN"}


def _as_data(data: DataParams, table: SignalTable, source: str, fmt: str) -> DataParams:
    """The orders' params with this table's source: same CSV reader and dialect."""
    key = table.columns["customer_id"]
    columns = ColumnMap.model_construct(customer_id=key, order_ts=key, amount=key)
    return data.model_copy(
        update={
            "source": source,
            "format": fmt,
            "columns": columns,
            "lookups": (),
            "status": StatusRules(),
            "non_product_codes": NonProductCodes(),
        }
    )


def _check_mapped(name: str, table: SignalTable, source: Source) -> None:
    missing = [
        f"signals.{name}.columns.{canon} = {col!r}"
        for canon, col in table.columns.items()
        if col not in source.columns
    ]
    if missing:
        raise IngestError(
            f"column(s) missing from the {name} source: {'; '.join(missing)}. "
            f"Source columns: {', '.join(source.columns)}"
        )


def _parsed(name: str, table: SignalTable, types: dict[str, str]) -> dict[str, str]:
    """Canonical column -> SQL parsing its source cell (NULL when unparsable or unmapped)."""
    out: dict[str, str] = {}
    for canon, kind in MAPPABLE[name].items():
        col = table.columns.get(canon)
        if col is None or types[col].strip('"') == "NULL":  # unmapped, or all nulls
            out[canon] = "NULL"
        elif kind == "id":
            out[canon] = customer_expr(col, types[col])
        elif kind.startswith("ts"):
            if _kind(types[col]) not in ("ts", "date", "text") and table.date_format is None:
                raise IngestError(
                    f"signals.{name}.columns.{canon}: column {col!r} has type {types[col]}: "
                    f"set signals.{name}.date_format to say how to read it"
                )
            out[canon] = timestamp_expr(col, types[col], table.date_format)
        elif kind.startswith("number"):
            out[canon] = number_expr(col, types[col], ".")
        else:
            out[canon] = f"lower({text_expr(col, types[col])})"
    return out


def _flag_sql(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


def _derived(name: str, table: SignalTable, p: dict[str, str]) -> dict[str, str]:
    """Canonical columns computed from the parsed ones with the table's params."""
    if isinstance(table, TicketsTable):
        return {
            "is_complaint": f"coalesce({p['type']} IN {_flag_sql(table.complaint_types)}, false)"
        }
    if isinstance(table, InteractionsTable):
        d = p["direction"]
        return {
            "inbound": f"CASE WHEN {d} IN {_flag_sql(table.inbound_values)} THEN true "
            f"WHEN {d} IN {_flag_sql(table.outbound_values)} THEN false END"
        }
    if isinstance(table, ContractsTable):
        a = p["auto_renew"]
        return {
            "auto_renew": f"CASE WHEN {a} IS NULL THEN false "
            f"WHEN {a} IN {_flag_sql(table.true_values)} THEN true "
            f"WHEN {a} IN {_flag_sql(table.false_values)} THEN false END"
        }
    return {}


def _rules(
    name: str, table: SignalTable, types: dict[str, str], p: dict[str, str], data: DataParams
) -> list[tuple[str, str, str]]:
    """(reason, SQL condition, blamed column) in :data:`SIGNAL_REASONS` order."""
    rules: list[tuple[str, str, str]] = []
    kinds = MAPPABLE[name]
    cols = table.columns
    low = literal(data.min_date)
    for canon, col in cols.items():
        kind, optional = kinds[canon], kinds[canon].endswith("?")
        blank = blank_expr(col, types[col])
        if kind == "id":
            rules.append(("missing_customer_id", blank, col))
        elif not optional:
            rules.append(("missing_value", blank, col))
        if kind.startswith("ts"):
            rules.append(("bad_timestamp", f"NOT {blank} AND {p[canon]} IS NULL", col))
            rules.append(("implausible_timestamp", f"{p[canon]} < TIMESTAMP {low}", col))
        elif kind.startswith("number"):
            bad = f"NOT {blank} AND ({p[canon]} IS NULL OR NOT isfinite({p[canon]}))"
            rules.append(("bad_number", bad, col))
    for canon, expr in _derived(name, table, p).items():
        source = cols.get({"is_complaint": "type", "inbound": "direction"}.get(canon, canon))
        if source is not None and canon != "is_complaint":
            rules.append(("bad_boolean", f"{expr} IS NULL", source))
    for tab, first, then in ORDERED_PAIRS:
        if tab == name and first in cols and then in cols:
            rules.append(("time_order", f"{p[then]} < {p[first]}", cols[then]))
    order = {r: i for i, r in enumerate(SIGNAL_REASONS)}
    return sorted(rules, key=lambda r: order[r[0]])


def classified_sql(
    name: str, table: SignalTable, source: Source, data: DataParams
) -> tuple[str, list[str]]:
    """Every source row with its parsed canonical values and its first quarantine reason."""
    types = source.columns
    p = _parsed(name, table, types)
    derived = _derived(name, table, p)
    rules = _rules(name, table, types, p, data)
    reason = ["CASE"]
    if MALFORMED_COL in _all_columns(source):
        reason.append(f"WHEN {MALFORMED_COL} IS NOT NULL THEN 'malformed_line|'")
    for r, cond, col in rules:
        reason.append(f"WHEN coalesce({cond}, false) THEN {literal(r + '|' + col)}")
    reason.append("END")
    canon = {**p, **derived}
    out_cols = list(SIGNAL_COLUMNS[name])
    casts = ", ".join(
        f"CAST({canon[c]} AS {_DUCK[SIGNAL_COLUMNS[name][c]]}) AS {ident('__c_' + c)}"
        for c in out_cols
    )
    sql = f"SELECT *, {casts}, {' '.join(reason)} AS __verdict FROM src_export"
    return sql, out_cols


def _all_columns(source: Source) -> set[str]:
    return set(source.columns) | ({MALFORMED_COL} if source.fmt == "csv" else set())


def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    con.execute(f"COPY ({sql}) TO {literal(str(partial))} (FORMAT parquet)")
    partial.replace(path)


def _write(
    con: duckdb.DuckDBPyConnection, name: str, out_cols: list[str], source: Source, out: Path
) -> dict[str, Any]:
    """Write the clean and quarantine files of one table; its report entry."""
    clean = ", ".join(f"{ident('__c_' + c)} AS {ident(c)}" for c in out_cols)
    _copy(con, f"SELECT {clean} FROM classified WHERE __verdict IS NULL", out / f"{name}.parquet")
    cells = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in source.columns)
    quarantine = (
        f"SELECT {cells}, split_part(__verdict, '|', 1) AS reason, "
        f"nullif(split_part(__verdict, '|', 2), '') AS column_name, "
        f"{FILE_COL} AS file_index, {ROW_COL} AS source_row "
        f"FROM classified WHERE __verdict IS NOT NULL"
    )
    _copy(con, quarantine, out / f"{name}.quarantine.parquet")
    rows = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE __verdict IS NULL) FROM classified"
    ).fetchone()
    assert rows is not None
    by_reason = dict(
        con.execute(
            "SELECT split_part(__verdict, '|', 1), count(*) FROM classified "
            "WHERE __verdict IS NOT NULL GROUP BY ALL"
        ).fetchall()
    )
    quarantined = {r: int(by_reason.get(r, 0)) for r in SIGNAL_REASONS}
    return {
        "rows_in": int(rows[0]),
        "rows_clean": int(rows[1]),
        "rows_quarantined": sum(quarantined.values()),
        "quarantined_by_reason": quarantined,
    }


def describe(source: str | DatabaseSource) -> str:
    """A table's source for messages and the report (a database URL without credentials)."""
    if isinstance(source, DatabaseSource):
        return f"query on {source.url_env or redacted(source.url or '')}"
    return source


def ingest_table(
    name: str, table: SignalTable, data: DataParams, out: Path, tmp: str
) -> dict[str, Any]:
    """Ingest one signal table into ``out``; its report entry (rows in = clean + quarantined)."""
    source_path, fmt = table.source, table.format
    if isinstance(source_path, DatabaseSource):
        path = Path(tmp) / f"{name}.db.parquet"
        materialise(source_path, path)
        source_path, fmt = str(path), "parquet"
    params = _as_data(data, table, source_path, fmt)
    with closing(duckdb.connect(str(Path(tmp) / f"{name}.duckdb"))) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        try:
            source = open_source(con, params)
            _check_mapped(name, table, source)
            sql, out_cols = classified_sql(name, table, source, data)
            con.execute(f"CREATE TEMP TABLE classified AS {sql}")
            entry = _write(con, name, out_cols, source, out)
        except duckdb.Error as exc:
            raise IngestError(
                f"signals.{name}: reading {describe(table.source)} failed: {exc}"
            ) from exc
    entry = {"source": describe(table.source), **entry}
    _check_entry(name, table, entry)
    return entry


def _check_entry(name: str, table: SignalTable, entry: dict[str, Any]) -> None:
    if entry["rows_in"] != entry["rows_clean"] + entry["rows_quarantined"]:
        raise IngestError(f"signals.{name}: row count broken: {entry}")
    share = entry["rows_quarantined"] / max(entry["rows_in"], 1)
    if entry["rows_in"] and share > table.max_quarantine_share:
        raise IngestError(
            f"signals.{name}: {entry['rows_quarantined']} of {entry['rows_in']} rows "
            f"({share:.1%}) quarantined, above signals.{name}.max_quarantine_share = "
            f"{table.max_quarantine_share:.1%} ({entry['quarantined_by_reason']})"
        )


def run_signals(signals: SignalsParams, data: DataParams, out: Path) -> dict[str, Any]:
    """Ingest every mapped signal table into the directory ``out``; the report section.

    Files of tables no longer mapped are removed, so the directory always matches
    ``manifest.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.parquet"):
        stale.unlink()
    present = signals.present()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="signals-") as tmp:
        for name, table in present.items():
            report[name] = ingest_table(name, table, data, out, tmp)
            logger.info("signals.%s: %s", name, report[name])
    manifest = {"tables": list(present)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report


def present_tables(directory: Path | None) -> tuple[str, ...]:
    """Signal tables listed in ``directory/manifest.json`` (none without a directory)."""
    if directory is None or not (directory / MANIFEST).is_file():
        return ()
    loaded = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return tuple(loaded["tables"])
