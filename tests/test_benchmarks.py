"""The benchmark machinery: medians of >= 3 runs, ratios to a floor, stable JSON keys.

Nothing here is timed (house rule 23): the tests check that the scripts run, that a
summary's ratio is the ratio of its own medians, that the JSON keys the README table
reads are present, and that every command of ``benchmarks/README.md`` parses.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run_all
from benchmarks.stats import MIN_RUNS, Spread, percentile
from features.catalog import feature_names

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"


@pytest.mark.parametrize(("clustered", "low", "high"), [(False, 0.0, 0.01), (True, 0.9, 1.0)])
def test_bench_features_streams_are_independent_unless_clustered(
    clustered: bool, low: float, high: float
) -> None:
    """The generator's customer (stream 1) and order time (stream 2) are independent; the
    old ``hash(seed, stream, key)`` (``--clustered``) correlated them at about -0.99."""
    import duckdb

    from benchmarks.bench_features import _u

    u1, u2 = (_u(42, "i", k, clustered=clustered) for k in (1, 2))
    ((corr,),) = duckdb.sql(f"SELECT corr({u1}, {u2}) FROM range(100000) t(i)").fetchall()
    assert low <= abs(corr) <= high


def test_spread_is_median_min_max() -> None:
    spread = Spread.of([3.0, 1.0, 10.0, 2.0])
    assert (spread.median, spread.min, spread.max, spread.runs) == (2.5, 1.0, 10.0, 4)
    assert spread.as_dict("x") == {"x": 2.5, "x_min": 1.0, "x_max": 10.0, "x_runs": 4}
    with pytest.raises(ValueError, match="no measurement"):
        Spread.of([])


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) in (50.0, 51.0)
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.0) == 1.0 and percentile(values, 1.0) == 100.0


def _readme_commands() -> list[list[str]]:
    """Every ``python -m benchmarks.<name> ...`` line of the README's bash block."""
    block = README.read_text(encoding="utf-8").split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.splitlines() if line.startswith("python -m")]


def test_every_readme_command_parses() -> None:
    commands = _readme_commands()
    assert len(commands) >= 7
    for cmd in commands:
        module = importlib.import_module(cmd[2])
        args = module.parse_args(cmd[3:])
        if hasattr(args, "repeats"):
            assert args.repeats >= MIN_RUNS, cmd


@pytest.mark.parametrize(
    "module", ["bench_features", "bench_explain", "bench_pipeline", "bench_ingest"]
)
def test_fewer_than_three_repeats_is_refused(module: str) -> None:
    parse = importlib.import_module(f"benchmarks.{module}").parse_args
    with pytest.raises(SystemExit):
        parse(["--repeats", "2"])


def test_serving_refuses_fewer_than_three_rounds() -> None:
    from benchmarks.bench_serving import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--rounds", "2"])


def test_run_all_passes_report_paths_except_to_quality(tmp_path: Path) -> None:
    cmd = run_all.command("bench_features", quick=True, report_dir=tmp_path)
    assert cmd[1:3] == ["-m", "benchmarks.bench_features"]
    assert cmd[3:-2] == run_all.QUICK["bench_features"]
    assert cmd[-2:] == ["--report", str(tmp_path / "bench_features.json")]
    assert "--report" not in run_all.command("bench_quality", quick=True, report_dir=tmp_path)


@pytest.mark.slow
def test_quick_features_benchmark_through_run_all(tmp_path: Path) -> None:
    """``make bench BENCH_ARGS=--quick``'s features step, with its JSON summary."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--only", "bench_features",
         "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "bench_features.json").read_text())
    for key in ("ratio_to_floor", "cpu_ratio_to_floor", "core_cpu_ratio_to_floor",
                "online_p50_ms", "rss_peak_mb", "loaded", "features_seconds_min",
                "features_seconds_max"):  # fmt: skip
        assert key in report, key
    assert report["features_seconds_runs"] == report["floor_seconds_runs"] == MIN_RUNS
    assert report["ratio_to_floor"] == pytest.approx(
        report["features_seconds"] / report["floor_seconds"]
    )
    assert report["cpu_ratio_to_floor"] == pytest.approx(
        report["features_cpu_seconds"] / report["floor_cpu_seconds"]
    )
    assert report["features_seconds_min"] <= report["features_seconds"]
    assert report["features_seconds"] <= report["features_seconds_max"]
    assert report["online_min_ms"] <= report["online_p50_ms"] <= report["online_max_ms"]
    assert report["features_rows_out"] > 0 and report["n_features"] == len(
        feature_names({"product_id", "quantity"})
    )
    assert re.search(r"features / floor \(medians, 3 runs each\)", done.stdout)


@pytest.mark.slow
def test_explain_states_and_uses_the_requested_shape(tmp_path: Path) -> None:
    from benchmarks import bench_explain

    out = tmp_path / "explain.json"
    bench_explain.main(
        ["--customers", "3000", "--trees", "12", "--leaves", "7", "--check-rows", "200",
         "--report", str(out)]
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert report["model_trees"] == 12
    assert report["model_leaves_max"] <= 7
    assert report["model_source"].startswith("synthetic")
    assert report["explain_seconds_runs"] == MIN_RUNS
    assert report["ratio_to_floor"] == pytest.approx(
        report["explain_seconds"] / report["floor_seconds"]
    )
    assert report["max_abs_diff_vs_pred_contrib"] < 1e-9


def test_bench_features_core_computes_the_engines_values(tmp_path: Path) -> None:
    """The ``core`` phase times real work: its orders, recency, tenure, gap sums and
    distinct products equal the feature engine's at the benchmark's cutoff, for every
    customer of the engine's population."""
    import numpy as np

    from benchmarks.bench_features import _cutoff, _params, generate, parse_args
    from benchmarks.feature_core import core_sql
    from features.engines import DuckDBEngine, cutoff_frame

    data = tmp_path / "orders.parquet"
    generate(data, rows=40_000, customers=3_000, seed=7)
    params = _params(parse_args([]))
    engine = DuckDBEngine(data, params)
    try:
        cutoff = _cutoff(engine, params)
        feats = engine.features([cutoff], labelled=False).set_index("customer_id")
        cutoff_s = int(cutoff_frame([cutoff]).cutoff_s.iloc[0])
        core = engine.con.sql(core_sql(f"read_parquet('{data}')", cutoff_s)).df()
    finally:
        engine.close()
    core = core.set_index("customer_id").loc[feats.index]
    assert len(feats) > 1_000 and (core.gap_n >= 2).sum() > 500
    day = 86400.0
    exact = {
        "orders_lifetime": core.orders_lifetime,
        "days_since_last_order": core.last_age / day,
        "tenure_days": core.first_age / day,
        "products_90d": core.products_90d,
        "products_365d": core.products_365d,
    }
    for name, values in exact.items():
        np.testing.assert_array_equal(feats[name].to_numpy(), values.to_numpy(), err_msg=name)
    n, s1, s2 = (core[c].astype(float) for c in ("gap_n", "gap_sum", "gap_sq"))
    np.testing.assert_allclose(feats.gap_mean_days, (s1 / n / day).where(n >= 1), rtol=1e-12)
    std = np.sqrt((n * s2 - s1 * s1).clip(lower=0)) / n / day
    np.testing.assert_allclose(feats.gap_std_days, std.where(n >= 2), rtol=1e-9)
