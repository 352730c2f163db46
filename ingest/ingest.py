"""Ingest stage: map an order export to the canonical table, quarantine bad lines.

``python -m ingest.ingest --params params.yaml --orders data/interim/orders.parquet
--quarantine data/interim/quarantine.parquet --report reports/ingest.json
--signals data/interim/signals``

Every source line ends in exactly one of the two outputs: the canonical orders table
or the quarantine (the original line, a reason code, the blamed column and the line's
file and row). ``reports/ingest.json`` accounts for all of them and the stage checks
``rows_in == rows_clean + rows_quarantined`` before it succeeds. The same rules check
API records through :func:`validate_records`. See ``docs/ingest.md``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.text import Text

from config.base import ParamsError
from config.data import DatabaseSource, DataParams
from config.root import load_params
from config.stage import setup_logging, stage_args
from ingest.database import materialise, redacted
from ingest.lookup import join_lookups
from ingest.records import RecordError, ValidatedRecords, validate_records
from ingest.rules import (
    classified_sql,
    clean_sql,
    duplicate_hashes_sql,
    duplicate_keys_sql,
    quarantine_names,
    quarantine_sql,
)
from ingest.schema import STATUSES
from ingest.signals import run_signals
from ingest.source import IngestError, Source, duckdb_message, ident, literal, open_source
from ingest.sql import REASONS

__all__ = ["IngestError", "RecordError", "ValidatedRecords", "run_ingest", "validate_records"]

logger = logging.getLogger(__name__)
# zstd level 1: same size as the default level 3 on this data, faster to write
_PARQUET = "COMPRESSION zstd, COMPRESSION_LEVEL 1"


def connect(params: DataParams, temp_dir: str) -> duckdb.DuckDBPyConnection:
    """A scratch DuckDB database in ``temp_dir``, capped at ``data.memory_limit``.

    Disk-backed so staged CSV and big intermediates spill instead of failing; insertion
    order is preserved so the outputs are byte-identical from run to run (DVC hashes).
    """
    con = duckdb.connect(
        str(Path(temp_dir) / "ingest.duckdb"),
        config={
            "memory_limit": params.memory_limit,
            "temp_directory": temp_dir,
            "preserve_insertion_order": True,
        },
    )
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")  # timestamptz sources become naive UTC
    return con


def find_duplicates(con: duckdb.DuckDBPyConnection, source: Source) -> str | None:
    """Materialise the keys of repeated lines as ``dup_keys``; None when there are none."""
    cols = list(source.columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE dup_hashes AS {duplicate_hashes_sql('src', cols)}")
    if not _scalar(con, "SELECT count(*) FROM dup_hashes"):
        return None
    keys = duplicate_keys_sql("src", cols, "dup_hashes")
    con.execute(f"CREATE OR REPLACE TEMP TABLE dup_keys AS {keys}")
    return "dup_keys"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return None if row is None else row[0]


def copy_parquet(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """Write a query to Parquet atomically (a failed run leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    con.execute(f"COPY ({sql}) TO {literal(str(partial))} (FORMAT parquet, {_PARQUET})")
    partial.replace(path)


def quarantine_counts(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> dict[str, int]:
    """Quarantined lines per reason, every reason listed (zeros included)."""
    rows = con.execute(
        f"SELECT {ident(reason)}, count(*) FROM read_parquet({literal(str(path))}) GROUP BY ALL"
    ).fetchall()
    found = {str(r): int(n) for r, n in rows}
    return {r: found.get(r, 0) for r in REASONS}


def clean_stats(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    """Counts, date range and status mix of the written canonical table."""
    status_counts = ", ".join(
        f"count(*) FILTER (WHERE status = {literal(s)}) AS {s}" for s in STATUSES
    )
    row = con.execute(
        "SELECT count(*), count(DISTINCT customer_id), count(DISTINCT order_id), "
        f"min(order_ts), max(order_ts), sum(amount), {status_counts} "
        f"FROM read_parquet({literal(str(path))})"
    ).fetchone()
    assert row is not None  # an aggregate always returns one row
    return {
        "rows_clean": int(row[0]),
        "customers": int(row[1]),
        "orders": int(row[2]),
        "date_min": row[3].isoformat() if row[3] else None,
        "date_max": row[4].isoformat() if row[4] else None,
        "amount_total": round(float(row[5] or 0.0), 2),
        "status_counts": {s: int(n) for s, n in zip(STATUSES, row[6:], strict=True)},
    }


def limit_problem(params: DataParams, rows_in: int, by_reason: dict[str, int]) -> str | None:
    """Why the quarantine outcome must stop the stage, or None when it may go on."""
    quarantined = sum(by_reason.values())
    top = ", ".join(f"{r}={n}" for r, n in sorted(by_reason.items(), key=lambda x: -x[1]) if n)
    if rows_in == quarantined:
        return f"no clean rows: all {rows_in} rows of {params.source!r} were quarantined ({top})"
    share = quarantined / rows_in
    if share > params.max_quarantine_share:
        return (
            f"{quarantined} of {rows_in} rows ({share:.1%}) quarantined, above "
            f"data.max_quarantine_share = {params.max_quarantine_share:.1%} ({top})"
        )
    return None


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the ingest report (a DVC metric) as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _ingest(
    con: duckdb.DuckDBPyConnection, params: DataParams, orders: Path, quarantine: Path
) -> tuple[dict[str, Any], str | None]:
    """Run every pass; return the report and the limit problem (if any)."""
    source = join_lookups(con, open_source(con, params), params)
    duplicates = find_duplicates(con, source)
    csv = source.fmt == "csv"
    classified = classified_sql(params, source.columns, "src", duplicates, malformed=csv)
    con.execute(f"CREATE OR REPLACE TEMP VIEW classified AS {classified}")
    rows_in = int(_scalar(con, "SELECT count(*) FROM src"))
    columns = list(source.columns)
    copy_parquet(con, quarantine_sql(columns, source.files, "classified", csv=csv), quarantine)
    by_reason = quarantine_counts(con, quarantine, quarantine_names(columns)["reason"])
    report: dict[str, Any] = {
        "source": params.source,
        "files": len(source.files),
        "rows_in": rows_in,
        "source_lines": source.lines,
        "rows_quarantined": sum(by_reason.values()),
        "quarantine_share": round(sum(by_reason.values()) / max(rows_in, 1), 6),
        "quarantined_by_reason": by_reason,
    }
    problem = limit_problem(params, rows_in, by_reason)
    if problem is None:
        copy_parquet(con, clean_sql(params, "classified"), orders)
        report |= clean_stats(con, orders)
    return report, problem


def describe_source(params: DataParams) -> str:
    """``data.source`` for messages and the report (a database URL without credentials)."""
    if isinstance(params.source, DatabaseSource):
        where = params.source.url_env or redacted(params.source.url or "")
        return f"query on {where}"
    return params.source


def run_ingest(params: DataParams, orders: Path, quarantine: Path, report_path: Path) -> dict:
    """Ingest ``data.source`` into ``orders``/``quarantine`` and write the report.

    Raises
    ------
    IngestError
        Source missing or unreadable, a mapped column absent, no clean rows, the
        quarantined share above ``data.max_quarantine_share`` (quarantine and report
        are still written so the cause can be inspected; ``orders`` is removed), or a
        broken row count.
    """
    with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
        described = describe_source(params)
        if isinstance(params.source, DatabaseSource):
            table = Path(tmp) / "database.parquet"
            materialise(params.source, table)
            params = params.model_copy(update={"source": str(table), "format": "parquet"})
        with closing(connect(params, tmp)) as con:
            try:
                report, problem = _ingest(con, params, orders, quarantine)
            except duckdb.Error as exc:
                raise IngestError(f"reading {described} failed: {duckdb_message(exc)}") from exc
        report["source"] = described
    write_report(report, report_path)
    if problem is not None:
        orders.unlink(missing_ok=True)
        raise IngestError(f"{problem}; see {quarantine} and {report_path}")
    if report["rows_in"] != report["rows_clean"] + report["rows_quarantined"]:
        raise IngestError(
            f"row count broken: {report['rows_in']} in != {report['rows_clean']} clean + "
            f"{report['rows_quarantined']} quarantined"
        )
    return report


def main(argv: Sequence[str] | None = None) -> None:
    """Stage entry point: wiring only; a known failure exits 1 with one clear line."""
    args = stage_args(argv, __doc__, "orders", "quarantine", "report", optional=("signals",))
    setup_logging()
    console = Console(stderr=True)
    try:
        root = load_params(args.params)
        params = root.data
        report = run_ingest(params, args.orders, args.quarantine, args.report)
        if args.signals is not None:
            report["signals"] = run_signals(root.signals, params, args.signals)
            write_report(report, args.report)
        elif root.signals.present():
            raise IngestError("params map signal tables: pass --signals DIR to write them")
    except (IngestError, ParamsError) as exc:
        console.print(Text.assemble(("ingest failed: ", "bold red"), str(exc)))
        raise SystemExit(1) from None
    console.print(
        f"ingest: {report['rows_in']:,} rows in, {report['rows_clean']:,} clean, "
        f"{report['rows_quarantined']:,} quarantined -> {args.orders}, {args.quarantine}"
    )


if __name__ == "__main__":
    main()
