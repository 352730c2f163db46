"""Benchmark: full feature set for one cutoff vs the bare DuckDB floor, and build_online.

Usage::

    python -m benchmarks.bench_features                      # 10M lines, 1M customers
    python -m benchmarks.bench_features --rows 1000000 --customers 100000
    python -m benchmarks.bench_features --rows 100000000 --customers 10000000 \\
        --temp-directory /tmp/duckdb_spill

Generates a canonical orders file (``customer_id, order_id, order_ts, amount, status,
quantity, product_id``; 2 lines per order, 3% cancelled, 1% returned, orders spread
uniformly over 3 years whoever the customer; ``--clustered``: the layout of the figures
before 2026-12-02, each customer's orders within days of one another) inside DuckDB,
then times, each in a fresh subprocess so peak RSS is per phase:

* ``floor``: ``SELECT customer_id, count(*), sum(amount), max(order_ts) ... GROUP BY 1``
  on the same file, fetched to pandas;
* ``features``: every catalog feature plus the label for one cutoff
  (``data_end - horizon``), fetched to pandas, with the DuckDB memory limit and spill
  directory from ``features.duckdb`` (overridable here);
* ``core``: the operators every exact plan needs, alone (order de-duplication, the
  gap window, distinct products: :mod:`benchmarks.feature_core`), for the same cutoff;
* ``online``: ``build_online`` for one customer with ``--online-orders`` orders, p50/p95.

Each batch phase runs ``--repeats`` times (>= 3); the median is reported with min and
max, and the features/floor ratios (wall and CPU) are ratios of medians measured in the
same invocation. ``--report FILE`` writes the summary JSON (``ratio_to_floor``,
``cpu_ratio_to_floor``, ``core_cpu_ratio_to_floor``, ``online_p50_ms``, ``rss_peak_mb``, ...).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.feature_core import core_sql
from benchmarks.stats import (
    Spread,
    cpu_seconds,
    machine,
    peak_rss_mb,
    percentile,
    repeats_arg,
    write_report,
)
from config.base import load_section, read_params
from config.features import FeatureParams
from features.engines import DuckDBEngine, connect_duckdb, cutoff_frame
from features.schedule import build_schedule

console = Console()
BATCH_PHASES = ("floor", "features", "core")


def _u(seed: int, key: str, stream: int, *, clustered: bool = False) -> str:
    """SQL uniform [0, 1): a pure function of (seed, key, stream), independent across
    streams. ``clustered``: the generator of the figures before 2026-12-02,
    ``hash(seed, stream, key)``, whose streams 1 and 2 correlate at -0.99, so each
    customer's orders fall within a few days of one another (a third of the customers
    in the population at the cutoff instead of about 80%)."""
    if clustered:
        return f"((hash({seed}, {stream}, {key}) >> 11) / 9007199254740992.0)"
    return f"((hash('{seed}:{stream}:' || CAST({key} AS VARCHAR)) >> 11) / 9007199254740992.0)"


def generate(path: Path, rows: int, customers: int, seed: int, *, clustered: bool = False) -> None:
    """Write ``rows`` canonical order lines for ``customers`` customers over 3 years."""
    u = lambda key, stream: _u(seed, key, stream, clustered=clustered)  # noqa: E731
    sql = f"""
    COPY (
      WITH l AS (SELECT i, i // 2 AS o FROM range({rows}) t(i)),
      o AS (
        SELECT i, o,
               CAST(floor({customers} * {u("o", 1)}) AS BIGINT) AS c,
               {u("o", 2)} AS t, {u("o", 3)} AS s, {u("i", 4)} AS a, {u("i", 5)} AS p
        FROM l
      )
      SELECT CAST(c AS VARCHAR) AS customer_id,
             'o' || CAST(o AS VARCHAR) AS order_id,
             TIMESTAMP '2021-01-01' + to_seconds(CAST(floor(t * 3 * 365 * 86400) AS BIGINT))
               AS order_ts,
             CASE WHEN s < 0.04 THEN -1 ELSE 1 END * round(1 + 200 * a * a, 2) AS amount,
             CASE WHEN s < 0.03 THEN 'cancelled' WHEN s < 0.04 THEN 'returned'
                  ELSE 'completed' END AS status,
             CAST(1 + floor(a * 6) AS DOUBLE) AS quantity,
             'p' || CAST(CAST(floor(p * p * 5000) AS BIGINT) AS VARCHAR) AS product_id
      FROM o
    ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(sql)
    finally:
        con.close()


def _layout(args: argparse.Namespace) -> str:
    """The data layout's name (``--clustered``), in the report and the file name."""
    return "clustered" if args.clustered else "spread"


def _timed(fn: Any, repeats: int) -> tuple[Any, list[float], list[float]]:
    """Run ``fn`` ``repeats`` times; its last result, wall and CPU seconds per run.

    CPU time (all DuckDB threads) measures the work even when other load shares the
    machine; wall time does not.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
    return result, walls, cpus


def phase_floor(path: Path, params: FeatureParams, repeats: int) -> dict[str, Any]:
    """Time the bare group-by floor on the same file."""
    con = connect_duckdb(params)
    sql = (
        "SELECT customer_id, count(*), sum(amount), max(order_ts) "
        f"FROM read_parquet('{path}') GROUP BY 1"
    )
    frame, walls, cpus = _timed(lambda: con.sql(sql).to_arrow_table().to_pandas(), repeats)
    return {"walls": walls, "cpus": cpus, "rows_out": len(frame)}


def phase_features(path: Path, params: FeatureParams, repeats: int) -> dict[str, Any]:
    """Time every feature + label for one cutoff through the batch engine."""
    engine = DuckDBEngine(path, params)
    try:
        cutoff = _cutoff(engine, params)
        frame, walls, cpus = _timed(lambda: engine.features([cutoff], labelled=True), repeats)
    finally:
        engine.close()
    return {
        "walls": walls,
        "cpus": cpus,
        "rows_out": len(frame),
        "n_features": frame.shape[1] - 3,
        "cutoff": cutoff.isoformat(),
    }


def _cutoff(engine: DuckDBEngine, params: FeatureParams) -> pd.Timestamp:
    """The benchmark's one cutoff: the latest labelled one of the schedule."""
    return build_schedule(*engine.bounds(), params).labelled[-1]


def phase_core(path: Path, params: FeatureParams, repeats: int) -> dict[str, Any]:
    """Time the operators every exact plan needs (:mod:`benchmarks.feature_core`)."""
    engine = DuckDBEngine(path, params)
    try:
        cutoff_s = int(cutoff_frame([_cutoff(engine, params)]).cutoff_s.iloc[0])
        sql = core_sql(f"read_parquet('{path}')", cutoff_s)
        frame, walls, cpus = _timed(
            lambda: engine.con.sql(sql).to_arrow_table().to_pandas(), repeats
        )
    finally:
        engine.close()
    return {"walls": walls, "cpus": cpus, "rows_out": len(frame)}


def phase_online(params: FeatureParams, n_orders: int, repeats: int, seed: int) -> dict[str, Any]:
    """p50/p95 of build_online for one customer with ``n_orders`` orders (records)."""
    from features.online import _session, build_online, canonical_orders

    rng = np.random.default_rng(seed)
    hours = np.sort(rng.integers(0, 3 * 365 * 24, n_orders))
    records = [
        {
            "customer_id": "c1",
            "order_id": f"o{i}",
            "order_ts": pd.Timestamp("2021-01-01") + pd.Timedelta(hours=int(h)),
            "amount": round(float(rng.gamma(2.0, 25.0)), 2),
            "status": "completed" if rng.random() > 0.05 else "cancelled",
            "quantity": 1.0,
            "product_id": f"p{int(rng.integers(0, 50))}",
        }
        for i, h in enumerate(hours)
    ]
    as_of = pd.Timestamp("2024-01-01")
    build_online(records, as_of, params)  # warm up
    _, walls, cpus = _timed(lambda: build_online(records, as_of, params), repeats)
    ms = [t * 1000 for t in walls]
    # the pre-issue-15 path, in the same run: the compiled batch SQL on DuckDB per call
    duck = lambda: _session(params, frozenset(records[0])).run(  # noqa: E731
        canonical_orders(records), as_of
    )
    duck()  # compile and prepare once
    _, duck_walls, _ = _timed(duck, max(repeats // 3, 3))
    return {
        "duckdb_p50_ms": percentile([t * 1000 for t in duck_walls], 0.5),
        "p50_ms": percentile(ms, 0.5),
        "p95_ms": percentile(ms, 0.95),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "cpu_p50_ms": percentile([c * 1000 for c in cpus], 0.5),
        "calls": len(ms),
    }


def _params(args: argparse.Namespace) -> FeatureParams:
    params = load_section(read_params(args.params), "features", FeatureParams)
    duck = params.duckdb.model_copy(
        update={
            k: v
            for k, v in {
                "memory_limit": args.memory_limit,
                "temp_directory": args.temp_directory,
            }.items()
            if v is not None
        }
    )
    return params.model_copy(update={"duckdb": duck})


def run_phase(args: argparse.Namespace) -> None:
    """Child process: run one phase and print its JSON result (with peak RSS)."""
    params = _params(args)
    if args.phase == "floor":
        result = phase_floor(args.data, params, args.repeats)
    elif args.phase == "features":
        result = phase_features(args.data, params, args.repeats)
    elif args.phase == "core":
        result = phase_core(args.data, params, args.repeats)
    else:
        result = phase_online(params, args.online_orders, args.online_repeats, args.seed)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(json.dumps(result) + "\n")


def _child(args: argparse.Namespace, phase: str, data: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_features", "--phase", phase]
    cmd += ["--data", str(data), "--params", str(args.params), "--repeats", str(args.repeats)]
    cmd += ["--online-orders", str(args.online_orders)]
    cmd += ["--online-repeats", str(args.online_repeats), "--seed", str(args.seed)]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    if args.temp_directory:
        cmd += ["--temp-directory", args.temp_directory]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print medians (min/max) side by side with the floor; return the summary."""
    floor, feats = results["floor"], results["features"]
    wall = {k: Spread.of(results[k]["walls"]) for k in BATCH_PHASES}
    cpu = {k: Spread.of(results[k]["cpus"]) for k in BATCH_PHASES}
    summary: dict[str, Any] = {
        "rows": args.rows,
        "layout": _layout(args),
        "customers": args.customers,
        **wall["floor"].as_dict("floor_seconds"),
        **wall["features"].as_dict("features_seconds"),
        **cpu["floor"].as_dict("floor_cpu_seconds"),
        **cpu["features"].as_dict("features_cpu_seconds"),
        "ratio_to_floor": wall["features"].median / wall["floor"].median,
        "cpu_ratio_to_floor": cpu["features"].median / cpu["floor"].median,
        **cpu["core"].as_dict("core_cpu_seconds"),
        "core_cpu_ratio_to_floor": cpu["core"].median / cpu["floor"].median,
        "floor_rss_peak_mb": floor["peak_rss_mb"],
        "rss_peak_mb": feats["peak_rss_mb"],
        "features_rows_out": feats["rows_out"],
        "n_features": feats["n_features"],
        **{f"online_{k}": v for k, v in results.get("online", {}).items() if k != "peak_rss_mb"},
    }
    title = f"features: {args.rows:,} lines, {args.customers:,} customers ({_layout(args)})"
    table = Table(title=title)
    for col in ("phase", "wall s: median (min-max)", "CPU s: median (min-max)", "peak RSS MB",
                "rows out"):  # fmt: skip
        table.add_column(col)
    for name in BATCH_PHASES:
        res = results[name]
        w, c = wall[name], cpu[name]
        table.add_row(name, f"{w.median:.2f} ({w.min:.2f}-{w.max:.2f})",
                      f"{c.median:.2f} ({c.min:.2f}-{c.max:.2f})",
                      f"{res['peak_rss_mb']:.0f}", f"{res['rows_out']:,}")  # fmt: skip
    console.print(table)
    console.print(
        f"features / floor (medians, {args.repeats} runs each): "
        f"wall {summary['ratio_to_floor']:.2f}x, CPU {summary['cpu_ratio_to_floor']:.2f}x; "
        f"core alone (order de-duplication, gap window, distinct products): "
        f"CPU {summary['core_cpu_ratio_to_floor']:.2f}x"
    )
    if "online" in results:
        on = results["online"]
        console.print(
            f"build_online, 1 customer x {args.online_orders} orders, {on['calls']} calls: "
            f"p50 {on['p50_ms']:.2f} ms, p95 {on['p95_ms']:.2f} ms, "
            f"min {on['min_ms']:.2f}, max {on['max_ms']:.2f} (CPU p50 {on['cpu_p50_ms']:.2f} ms); "
            f"same rows through the batch SQL on DuckDB: p50 {on['duckdb_p50_ms']:.2f} ms"
        )
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Sizes, params and resource overrides."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the data here")
    parser.add_argument("--memory-limit", default=None, help="override features.duckdb")
    parser.add_argument("--temp-directory", default=None, help="override features.duckdb")
    repeats_arg(parser)
    parser.add_argument("--online-orders", type=int, default=200)
    parser.add_argument("--online-repeats", type=int, default=300)
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--seed", type=int, default=None, help="default: params seed")
    parser.add_argument(
        "--clustered",
        action="store_true",
        help="the data of the figures before 2026-12-02: each customer's orders within days",
    )
    parser.add_argument("--phase", choices=[*BATCH_PHASES, "online"], default=None)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = int(read_params(args.params)["seed"])
    return args


def main(argv: list[str] | None = None) -> None:
    """Generate data (unless present), run each phase in a subprocess, report."""
    args = parse_args(argv)
    if args.phase:
        run_phase(args)
        return
    before = machine()
    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        data = workdir / f"orders_{args.rows}_{args.customers}_{args.seed}_{_layout(args)}.parquet"
        if not data.exists():
            start = time.perf_counter()
            generate(data, args.rows, args.customers, args.seed, clustered=args.clustered)
            console.print(f"generated {data} in {time.perf_counter() - start:.1f} s")
        results = {p: _child(args, p, data) for p in BATCH_PHASES}
        if not args.skip_online:
            results["online"] = _child(args, "online", data)
    summary = report(args, results)
    write_report(args.report, "bench_features", before, summary)


if __name__ == "__main__":
    main()
