"""Run every benchmark in turn (``make bench``), each in its own process.

``--quick`` uses small sizes (a smoke run of every script, a few minutes on 2 cores);
without it each script runs at its documented default size (tens of minutes). Figures
are only meaningful on a quiet machine: run nothing else meanwhile.
``--report-dir DIR`` makes each timing benchmark write its JSON summary to
``DIR/<name>.json`` (the figures of ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

QUICK: dict[str, list[str]] = {
    "bench_ingest": ["--rows", "200000"],
    "bench_features": ["--rows", "200000", "--customers", "20000", "--online-repeats", "50"],
    "bench_explain": ["--customers", "20000", "--check-rows", "500"],
    "bench_pipeline": ["--customers", "300"],
    "bench_quality": [],  # the bundled data, through evaluate (a few minutes)
    "bench_serving": ["--customers", "5000", "--duration", "2", "--posts", "20"],
}
#: Benchmarks of model quality rather than time: no floor, no ``--report``.
QUALITY = frozenset({"bench_quality"})


def command(name: str, quick: bool, report_dir: Path | None) -> list[str]:
    """The command line ``run_all`` runs for benchmark ``name``."""
    cmd = [sys.executable, "-m", f"benchmarks.{name}", *(QUICK[name] if quick else [])]
    if report_dir is not None and name not in QUALITY:
        cmd += ["--report", str(report_dir / f"{name}.json")]
    return cmd


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """``--quick``, ``--only NAME...``, ``--report-dir DIR``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=sorted(QUICK), default=sorted(QUICK))
    parser.add_argument("--report-dir", type=Path, default=None, help="JSON summaries here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks in turn; exit 1 when one fails."""
    args = parse_args(argv)
    console = Console()
    failed = []
    for name in args.only:
        cmd = command(name, args.quick, args.report_dir)
        console.rule(" ".join(cmd[1:]))
        started = time.perf_counter()
        code = subprocess.call(cmd)
        console.print(f"{name}: exit {code} in {time.perf_counter() - started:.0f} s")
        if code:
            failed.append(name)
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/]")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
