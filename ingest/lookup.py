"""Join lookup tables onto the export (``data.lookups``), e.g. categories from a product master.

Order exports often carry only a product code while the category lives in an item
master; a lookup adds chosen columns of that table to every line, so the column map
can name them (``columns.category: product_category``). The lookup must have one row
per key, otherwise a join would multiply lines and break ``rows_in = clean +
quarantined``; that is checked, and a violation stops the stage naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from config.data import DataParams, Lookup
from ingest.csvread import LINE_COL, MALFORMED_COL, RAW_COL, CsvReadError, read_csv_file
from ingest.source import (
    BOOKKEEPING,
    EXPORT_VIEW,
    FILE_COL,
    ROW_COL,
    IngestError,
    Source,
    detect_format,
    duckdb_message,
    ident,
    literal,
    resolve_files,
)
from ingest.sql import text_expr

logger = logging.getLogger(__name__)


def _reader(
    con: duckdb.DuckDBPyConnection, index: int, files: tuple[str, ...], params: DataParams
) -> str:
    """A DuckDB relation over all files of a lookup (CSV with the export's dialect)."""
    paths = "[" + ", ".join(literal(f) for f in files) + "]"
    if detect_format(files, "auto") == "parquet":
        return f"read_parquet({paths}, union_by_name = true)"
    selects = []
    for k, path in enumerate(files):
        try:
            result, tables = read_csv_file(Path(path), k, params)
        except CsvReadError as exc:
            raise IngestError(f"lookup: {exc}") from None
        table = pa.concat_tables(tables)
        if result.malformed:
            flagged = table.filter(pc.is_valid(table[MALFORMED_COL])).slice(0, 1).to_pylist()[0]
            raise IngestError(
                f"lookup {path}: line {flagged[LINE_COL]} is malformed "
                f"({flagged[MALFORMED_COL]}): {flagged[RAW_COL]!r}"
            )
        name = f"lookup_csv_{index}_{k}"
        con.register("lookup_batch", table.drop_columns(list(BOOKKEEPING)))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM lookup_batch")
        con.unregister("lookup_batch")
        selects.append(f"(SELECT * FROM {name})")
    return "(" + " UNION ALL BY NAME ".join(selects) + ")"


def _describe(con: duckdb.DuckDBPyConnection, reader: str, where: str) -> dict[str, str]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"cannot read lookup {where}: {duckdb_message(exc)}") from exc
    return {str(name): str(dtype) for name, dtype, *_ in rows}


def load_lookup(
    con: duckdb.DuckDBPyConnection, index: int, lookup: Lookup, params: DataParams
) -> tuple[str, dict[str, str]]:
    """Load lookup ``index`` into a keyed table; return its name and added column types."""
    where = f"{lookup.source!r} (data.lookups[{index}])"
    reader = _reader(con, index, resolve_files(lookup.source), params)
    types = _describe(con, reader, where)
    key = lookup.lookup_key or lookup.key
    missing = [c for c in (key, *lookup.columns) if c not in types]
    if missing:
        raise IngestError(f"column(s) {missing} missing from lookup {where}; it has {list(types)}")
    table = f"lookup_{index}"
    picked = ", ".join(ident(c) for c in lookup.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT {text_expr(key, types[key])} AS __lk_key, {picked} FROM {reader}"
    )
    repeated = con.execute(
        f"SELECT count(*) FROM (SELECT __lk_key FROM {table} WHERE __lk_key IS NOT NULL "
        "GROUP BY __lk_key HAVING count(*) > 1)"
    ).fetchone()
    if repeated and repeated[0]:
        raise IngestError(
            f"lookup {where} has {repeated[0]} value(s) of {key!r} on more than one row; "
            "a lookup needs one row per key"
        )
    return table, {c: types[c] for c in lookup.columns}


def join_lookups(con: duckdb.DuckDBPyConnection, source: Source, params: DataParams) -> Source:
    """Create the ``src`` view: the export with every lookup's columns joined on."""
    columns = dict(source.columns)
    select, joins = ["e.*"], []
    for index, lookup in enumerate(params.lookups):
        if lookup.key not in columns:
            raise IngestError(f"data.lookups[{index}].key = {lookup.key!r} is not an export column")
        clash = [c for c in lookup.columns if c in columns]
        if clash:
            raise IngestError(f"data.lookups[{index}].columns {clash} already exist in the export")
        table, added = load_lookup(con, index, lookup, params)
        key = text_expr(lookup.key, columns[lookup.key])
        joins.append(f"LEFT JOIN {table} l{index} ON {key} = l{index}.__lk_key")
        select += [f"l{index}.{ident(c)}" for c in added]
        columns |= added
        logger.info("joined %s columns %s on %s", lookup.source, list(added), lookup.key)
    if not joins:
        con.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM {EXPORT_VIEW}")
        return source
    # A hash join does not keep line order; sort once into a (disk-backed) table so
    # the outputs stay in source order and identical from run to run.
    joined = f"SELECT {', '.join(select)} FROM {EXPORT_VIEW} e {' '.join(joins)}"
    con.execute(
        f"CREATE OR REPLACE TABLE src_joined AS {joined} ORDER BY e.{FILE_COL}, e.{ROW_COL}"
    )
    con.execute("CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM src_joined")
    return Source(files=source.files, fmt=source.fmt, columns=columns)
