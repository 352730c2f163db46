"""No-crash sweep: cut each raw export at every month-end with enough history, run the
real stages (ingest, features, train, score) and report what each cut produced.

Issue 10's bar: Online Retail cut at any month-end from 2011-05-31 on, and Complete
Journey cut at any month-end with at least H + 60 days of history, train and score
(degrading where the history is short, each degradation stated), never crash.

    python -m benchmarks.sweep_cuts                               # every dataset available
    python -m benchmarks.sweep_cuts --datasets online_retail --out /tmp/sweep.json
    python -m benchmarks.sweep_cuts --datasets completejourney --cuts 2017-10-01
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from benchmarks.bench_holdout import Dataset, datasets, read_raw, run_real_stages


def month_ends(ds: Dataset, params: dict[str, Any]) -> list[str]:
    """Month-ends with at least ``horizon + min_history`` days of orders before them
    (the cut itself excluded: rows before the day after the month-end are kept)."""
    orders = read_raw(ds, params)
    first, last = orders["ts"].min(), orders["ts"].max()
    need = params["features"]["horizon_days"] + params["features"]["min_history_days"]
    ends = pd.date_range(first.normalize(), last.normalize(), freq="ME")
    out = []
    for end in ends:
        cut = end + pd.Timedelta(days=1)
        before = orders.loc[orders["ts"] < cut, "ts"]
        # the features stage measures the history from the first to the last order day
        if (before.max().normalize() - first.normalize()).days + 1 >= need:
            out.append(cut.date().isoformat())
    return out


def run_cut(ds: Dataset, params: dict[str, Any], cut: str) -> dict[str, Any]:
    """Run the stages on the export cut at ``cut``; what came out (or the error)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sweep_cuts_") as tmp:
        try:
            scores = run_real_stages(replace(ds, cut=cut), params, Path(tmp))
        except SystemExit as exc:
            return {"cut": cut, "ok": False, "error": str(exc)[-600:]}
        report = json.loads((Path(tmp) / "reports/train.json").read_text())
    return {
        "cut": cut,
        "ok": True,
        "scored": len(scores),
        "seconds": round(time.perf_counter() - started, 1),
        "test_evaluated": report.get("test") is not None,
        "degradations": report.get("degradations", []),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: exit 1 when any cut crashed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=None, help="names (default: all)")
    parser.add_argument("--cuts", nargs="*", default=None, help="only these cuts (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    console = Console(width=160)
    results: list[dict[str, Any]] = []
    for ds in datasets():
        if args.datasets and ds.name not in args.datasets:
            continue
        params = yaml.safe_load(ds.params.read_text())
        table = Table(title=f"{ds.name}: cut at each month-end")
        for col in ("cut (rows before)", "ok", "customers scored", "held-out test", "degradations"):
            table.add_column(col)
        for cut in month_ends(ds, params):
            if args.cuts and cut not in args.cuts:
                continue
            row = {"dataset": ds.name, **run_cut(ds, params, cut)}
            results.append(row)
            table.add_row(
                cut,
                "yes" if row["ok"] else "CRASH",
                str(row.get("scored", "")),
                str(row.get("test_evaluated", "")),
                str(len(row.get("degradations", []))) if row["ok"] else row["error"][-200:],
            )
            console.print(f"{ds.name} {cut}: {'ok' if row['ok'] else 'CRASH'}")
        console.print(table)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
