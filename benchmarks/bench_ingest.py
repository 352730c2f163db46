"""Benchmark the ingest stage on a synthetic export, from Parquet and from CSV.

``python -m benchmarks.bench_ingest [--rows 10000000] [--params params.yaml]``

Generates an Online Retail shaped export (:mod:`benchmarks.synthetic`) once per format,
then ingests each in a fresh child process with the ``data`` params of ``--params``
(only ``data.source`` is replaced), and prints rows/s and the child's peak RSS. The
targets from issue 2: >= 2M rows/s from Parquet, >= 0.5M rows/s from CSV, <= 2 GB RSS.
"CPU s" is the child's user + system CPU time for the ingest: on a machine shared with
other jobs it shows what wall-clock rows/s would be with the cores to itself
(about CPU s / cores when DuckDB keeps them busy).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.synthetic import ExportShape, write_export
from config.base import load_section, read_params
from config.data import DataParams
from ingest.ingest import run_ingest

TARGET_ROWS_PER_S = {"parquet": 2_000_000, "csv": 500_000}
TARGET_RSS_MB = 2048


def _child(params_path: Path, source: Path, out: Path) -> None:
    """Ingest ``source`` and print elapsed seconds, report and peak RSS as JSON."""
    params = load_section(read_params(params_path), "data", DataParams)
    params = params.model_copy(update={"source": str(source)})
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    report = run_ingest(params, out / "orders.parquet", out / "q.parquet", out / "report.json")
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024  # Linux: KiB
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    print(
        json.dumps(
            {"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": peak_mb, "report": report}
        )
    )


def _measure(params_path: Path, source: Path, out: Path) -> dict:
    """Run one ingest in a fresh interpreter so its peak RSS is its own."""
    cmd = [sys.executable, "-m", "benchmarks.bench_ingest", "--child", str(source)]
    cmd += ["--params", str(params_path), "--out", str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ingest")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: rows / 50")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _bench(args: argparse.Namespace, workdir: Path, console: Console) -> Table:
    seed = int(read_params(args.params).get("seed", 0))
    shape = ExportShape(
        n_lines=args.rows, n_customers=args.customers or max(args.rows // 50, 1), seed=seed
    )
    table = Table(title=f"ingest of {args.rows:,} synthetic lines")
    header = ("format", "generate s", "ingest s", "rows/s", "target", "CPU s", "peak RSS MB")
    for col in (*header, "clean", "quarantined"):
        table.add_column(col, justify="right")
    for fmt in args.formats:
        start = time.perf_counter()
        source = write_export(shape, workdir / f"export.{fmt}", fmt)
        generated = time.perf_counter() - start
        console.log(f"generated {source} in {generated:.1f} s")
        result = _measure(args.params, source, workdir / f"out-{fmt}")
        report, seconds = result["report"], result["seconds"]
        assert report["rows_in"] == args.rows == report["rows_clean"] + report["rows_quarantined"]
        rate = report["rows_in"] / seconds
        rate_ok = "ok" if rate >= TARGET_ROWS_PER_S[fmt] else "MISSED"
        rss = result["peak_rss_mb"]
        rss_ok = "ok" if rss <= TARGET_RSS_MB else "MISSED"
        table.add_row(
            fmt, f"{generated:.1f}", f"{seconds:.2f}", f"{rate:,.0f}",
            f"{rate_ok} ({TARGET_ROWS_PER_S[fmt]:,})", f"{result['cpu_seconds']:.1f}",
            f"{rss:,.0f} ({rss_ok})",
            f"{report['rows_clean']:,}", f"{report['rows_quarantined']:,}",
        )  # fmt: skip
        (workdir / f"export.{fmt}").unlink()
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Generate, ingest in a child process, print the figures."""
    args = _parse_args(argv)
    if args.child is not None:
        _child(args.params, args.child, args.out)
        return
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=args.workdir) as tmp:
        console.print(_bench(args, Path(tmp), console))


if __name__ == "__main__":
    main()
