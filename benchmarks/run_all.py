"""Run every benchmark in turn (``make bench``), each in its own process.

``--quick`` uses small sizes (a smoke run of every script, a few minutes on 2 cores);
without it each script runs at its documented default size (tens of minutes). Figures
are only meaningful on a quiet machine: run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from rich.console import Console

QUICK: dict[str, list[str]] = {
    "bench_ingest": ["--rows", "200000"],
    "bench_features": ["--rows", "200000", "--customers", "20000", "--online-repeats", "50"],
    "bench_explain": ["--anchor", "--customers", "20000", "--check-rows", "500"],
    "bench_pipeline": ["--runs", "2", "--customers", "500"],
    "bench_quality": [],  # the bundled data, through evaluate (a few minutes)
    "bench_serving": ["--customers", "5000", "--duration", "2", "--rounds", "1"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=sorted(QUICK), default=sorted(QUICK))
    args = parser.parse_args(argv)
    console = Console()
    failed = []
    for name in args.only:
        extra = QUICK[name] if args.quick else []
        console.rule(f"{name} {' '.join(extra)}")
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *extra])
        console.print(f"{name}: exit {code} in {time.perf_counter() - started:.0f} s")
        if code:
            failed.append(name)
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/]")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
