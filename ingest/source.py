"""Open an order export (CSV or Parquet, one file or a glob) as a DuckDB view.

The view ``src_export`` holds every source column unchanged plus two bookkeeping columns,
:data:`FILE_COL` (index of the file in sorted glob order) and :data:`ROW_COL` (1-based
data row within that file, header excluded), so a quarantined line can be found again
in the file it came from. Only DuckDB's built-in readers are used: extensions that are
not bundled in the wheel cannot be downloaded on the machines this runs on.
"""

from __future__ import annotations

import difflib
import glob
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from config.data import DataParams
from ingest.csvread import (
    FILE_COL,
    LINE_COL,
    MALFORMED_COL,
    RAW_COL,
    ROW_COL,
    CsvReadError,
    read_csv_file,
)

logger = logging.getLogger(__name__)

EXPORT_VIEW = "src_export"
BOOKKEEPING = (FILE_COL, ROW_COL, LINE_COL, MALFORMED_COL, RAW_COL)
SourceFormat = Literal["csv", "parquet"]
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


class IngestError(RuntimeError):
    """The export cannot be ingested; the message names the file, column or count."""


@dataclass(frozen=True)
class Source:
    """An opened export: its files, format and source columns with DuckDB types."""

    files: tuple[str, ...]
    fmt: SourceFormat
    columns: dict[str, str]
    lines: int | None = None  # CSV: physical lines, counted apart from the parser
    malformed: int = 0  # CSV: records that did not parse (quarantined as malformed_line)


def ident(name: str) -> str:
    """Quote ``name`` as a SQL identifier (config text never reaches SQL unquoted)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote ``value`` as a SQL string literal (DuckDB has no backslash escapes)."""
    return "'" + value.replace("'", "''") + "'"


def resolve_files(pattern: str) -> tuple[str, ...]:
    """Expand ``data.source`` (a path or a glob) into a sorted tuple of files."""
    if glob.has_magic(pattern):
        files = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not files:
            raise IngestError(f"data.source {pattern!r} matches no file")
        return tuple(files)
    if not Path(pattern).is_file():
        raise IngestError(f"data.source file {pattern!r} does not exist")
    return (pattern,)


def detect_format(files: tuple[str, ...], declared: str) -> SourceFormat:
    """The reader to use: ``data.format`` when set, else the files' common suffix."""
    if declared in ("csv", "parquet"):
        return "csv" if declared == "csv" else "parquet"
    kinds = set()
    for name in files:
        lower = name.lower()
        if lower.endswith(_CSV_SUFFIXES):
            kinds.add("csv")
        elif lower.endswith(_PARQUET_SUFFIXES):
            kinds.add("parquet")
        else:
            raise IngestError(f"cannot tell the format of {name!r}: set data.format")
    if len(kinds) > 1:
        raise IngestError("data.source mixes CSV and Parquet files: point it at one kind")
    return "csv" if kinds == {"csv"} else "parquet"


def _file_select(index: int, path: str) -> str:
    """One Parquet file as SELECT, tagged with its file index and 1-based row numbers."""
    reader = f"read_parquet({literal(path)}, file_row_number = true)"
    return (
        f"SELECT * EXCLUDE (file_row_number), {index} AS {FILE_COL}, "
        f"file_row_number + 1 AS {ROW_COL} FROM {reader}"
    )


def _stage_csv(
    con: duckdb.DuckDBPyConnection, files: tuple[str, ...], params: DataParams
) -> tuple[str, int, int]:
    """Parse every CSV file once (:mod:`ingest.csvread`) into a disk-backed table.

    Returns the SQL reading it, the physical lines and the malformed records. Ingest
    reads its source several times (duplicates, quarantine, clean); re-parsing text
    each time would dominate the run.
    """
    lines = malformed = 0
    selects = []
    for index, path in enumerate(files):
        try:
            result, tables = read_csv_file(Path(path), index, params)
        except CsvReadError as exc:
            raise IngestError(str(exc)) from None
        lines += result.lines
        malformed += result.malformed
        name = f"staged_csv_{index}"
        for k, table in enumerate(tables):
            con.register("csv_batch", table)
            verb = f"CREATE OR REPLACE TABLE {name} AS" if k == 0 else f"INSERT INTO {name}"
            con.execute(f"{verb} SELECT * FROM csv_batch")
            con.unregister("csv_batch")
        selects.append(f"(SELECT * FROM {name})")
    con.execute(f"CREATE OR REPLACE TABLE staged_csv AS {' UNION ALL BY NAME '.join(selects)}")
    for index in range(len(files)):
        con.execute(f"DROP TABLE staged_csv_{index}")
    return "SELECT * FROM staged_csv", lines, malformed


def source_sql(files: tuple[str, ...]) -> str:
    """SQL for all Parquet files stacked by column name (a missing column reads as NULL)."""
    selects = [_file_select(i, path) for i, path in enumerate(files)]
    return "\nUNION ALL BY NAME\n".join(f"({s})" for s in selects)


def duckdb_message(exc: duckdb.Error) -> str:
    """DuckDB's error without the echoed SQL (which only shows our generated query)."""
    text = str(exc).split("\n\nLINE ")[0]
    for tail in ("\nThe search space", "\nPossible fixes", "\nPossible Solution"):
        text = text.split(tail)[0]
    return " ".join(text.split())


def _describe(
    con: duckdb.DuckDBPyConnection, sql: str, files: tuple[str, ...], fmt: SourceFormat
) -> dict[str, str]:
    """Create the export view; return its columns and types (naming the file if unreadable)."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {EXPORT_VIEW} AS {sql}")
        rows = con.execute(f"DESCRIBE SELECT * FROM {EXPORT_VIEW}").fetchall()
    except duckdb.Error as exc:
        shown = files[0] if len(files) == 1 else f"one of {len(files)} files ({files[0]}, ...)"
        hint = " (check data.csv_delimiter and data.csv_encoding)" if fmt == "csv" else ""
        raise IngestError(f"cannot read {shown}: {duckdb_message(exc)}{hint}") from exc
    return {str(name): str(dtype) for name, dtype, *_ in rows}


def required_columns(params: DataParams) -> dict[str, str]:
    """Every source column the params refer to, keyed by the params key naming it."""
    needed = {
        f"data.columns.{key}": value
        for key, value in params.columns.model_dump().items()
        if value is not None
    }
    if params.status.cancelled_prefix is not None:
        needed["data.status.cancelled_prefix.column"] = params.status.cancelled_prefix.column
    if params.non_product_codes.column is not None:
        needed["data.non_product_codes.column"] = params.non_product_codes.column
    return needed


def check_columns(columns: dict[str, str], params: DataParams, where: str) -> None:
    """Fail naming every params key whose source column is absent from ``where``."""
    missing = []
    for key, column in required_columns(params).items():
        if column not in columns:
            close = difflib.get_close_matches(column, list(columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            missing.append(f"{key} = {column!r}{hint}")
    if missing:
        raise IngestError(
            f"column(s) missing from {where}: {'; '.join(missing)}. "
            f"Source columns: {', '.join(c for c in columns if c not in BOOKKEEPING)}"
        )


def open_source(con: duckdb.DuckDBPyConnection, params: DataParams) -> Source:
    """Create the :data:`EXPORT_VIEW` view over ``data.source``; check mapped columns exist.

    Columns that ``data.lookups`` will add count as present here; the lookups
    themselves are checked when they are joined (:mod:`ingest.lookup`).
    """
    if not isinstance(params.source, str):
        raise IngestError("data.source: a database query must be materialised first")
    files = resolve_files(params.source)
    fmt = detect_format(files, params.format)
    for path in files:
        if not Path(path).stat().st_size:
            raise IngestError(f"source file {path!r} is empty")
    lines, malformed = None, 0
    if fmt == "csv":
        sql, lines, malformed = _stage_csv(con, files, params)
    else:
        sql = source_sql(files)
    columns = _describe(con, sql, files, fmt)
    where = files[0] if len(files) == 1 else f"the {len(files)} files of {params.source!r}"
    joined = {c: "" for lookup in params.lookups for c in lookup.columns}
    check_columns(columns | joined, params, where)
    logger.info("reading %d %s file(s) from %s", len(files), fmt, params.source)
    source_columns = {k: v for k, v in columns.items() if k not in BOOKKEEPING}
    return Source(files, fmt, source_columns, lines=lines, malformed=malformed)
