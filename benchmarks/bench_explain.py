"""Benchmark: explain + reasons for 1M synthetic customers at a stated model shape.

``python -m benchmarks.bench_explain [--customers 1000000] [--trees 200 --leaves 31]
[--model-dir models/churn] [--repeats 3] [--check-rows 5000] [--report FILE]``

By default the model is a LightGBM of ``--trees/--leaves/--depth`` trained on synthetic
rows (default 200 trees x 31 leaves: the issue-15 anchor shape), so the figure does not
depend on what ``models/churn`` holds in the checkout; ``--model-dir DIR`` measures that
bundle's real trees instead. The shape measured is printed and written to the report
(``model_trees``, ``model_leaves_max``, ``model_depth_max``). Customers come from
:func:`benchmarks.synthetic_features.synthetic_features`. The whole of
:func:`scoring.results.score_customers` runs (exact TreeSHAP by per-tree decision-
pattern deduplication, Shapley family impacts, top-k reasons rendered in en + zh-CN,
vendor rules) ``--repeats`` times (median, min, max; phases from the median run), next
to its floor in the same run: the model's plain ``predict`` on the same rows. Exactness
is checked on ``--check-rows`` rows against LightGBM's direct ``pred_contrib``, whose
speed is measured on the same rows. Prints wall time, rows/s and peak RSS.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.stats import Spread, machine, peak_rss_mb, repeats_arg, write_report
from benchmarks.synthetic_features import feature_params, synthetic_features
from bundle.calibration import fit_sigmoid
from bundle.model import ChurnModel
from config.scoring import ReasonsParams, RiskParams, RulesParams, ScoreParams
from features.catalog import ORDER_FEATURE_NAMES as FEATURE_NAMES
from scoring.config import ScoreConfig
from scoring.contributions import dedup_contributions
from scoring.results import score_customers

ANCHOR_TREES, ANCHOR_LEAVES = 200, 31


class PhaseCollector(logging.Handler):
    """Collects the ``phase`` timings :mod:`scoring.results` logs at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        phase = getattr(record, "phase", None)
        if phase is not None:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + float(record.seconds)  # type: ignore[attr-defined]


def synthetic_model(seed: int, trees: int, leaves: int, depth: int) -> ChurnModel:
    """A model of the given shape on synthetic customers (default: the anchor shape)."""
    names = tuple(n for n in FEATURE_NAMES if "categor" not in n)
    frame = synthetic_features(40_000, seed)
    x, y = frame.loc[:, list(names)].to_numpy(float), frame["label"].to_numpy()
    params = {"objective": "binary", "num_leaves": leaves, "max_depth": depth,
              "learning_rate": 0.05, "min_data_in_leaf": 20, "verbose": -1, "seed": seed,
              "num_threads": 2}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x[:30_000], y[:30_000]), trees)
    calibrator = fit_sigmoid(np.asarray(booster.predict(x[30_000:], raw_score=True)), y[30_000:])
    reference = {n: float(np.nanmedian(frame[n])) for n in names}
    return ChurnModel.new(
        booster,
        calibrator,
        names,
        feature_params(),
        reference,
        metadata={"model_version": "anchor"},
    )


def shape(model: ChurnModel) -> dict[str, int]:
    """Trees, max leaves per tree and max depth of the booster."""
    info = model.booster.dump_model()["tree_info"]

    def depth(node: dict) -> int:
        if "split_feature" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return {
        "model_trees": len(info),
        "model_leaves_max": max(t["num_leaves"] for t in info),
        "model_depth_max": max(depth(t["tree_structure"]) for t in info),
    }


def config() -> ScoreConfig:
    """The repo's defaults for the scoring sections (thresholds do not change the cost)."""
    return ScoreConfig(
        reasons=ReasonsParams(),
        risk=RiskParams.model_validate({"thresholds": {"medium": 0.4, "high": 0.65}}),
        score=ScoreParams(),
        horizon_days=90,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Sizes, model shape (or bundle), repeats and report path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--model-dir", type=Path, default=None, help="a bundle, not the shape")
    parser.add_argument("--trees", type=int, default=ANCHOR_TREES)
    parser.add_argument("--leaves", type=int, default=ANCHOR_LEAVES)
    parser.add_argument("--depth", type=int, default=-1, help="-1: unlimited (LightGBM)")
    parser.add_argument("--check-rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    repeats_arg(parser)
    return parser.parse_args(argv)


def _score(model: ChurnModel, snapshot: pd.DataFrame) -> tuple[pd.DataFrame, float, dict]:
    """One timed ``score_customers`` run and its phase timings."""
    collector = PhaseCollector()
    results_logger = logging.getLogger("scoring.results")
    results_logger.addHandler(collector)
    results_logger.setLevel(logging.DEBUG)
    try:
        start = time.perf_counter()
        scores = score_customers(model, snapshot, config(), RulesParams(), top_k=3)
        return scores, time.perf_counter() - start, collector.seconds
    finally:
        results_logger.removeHandler(collector)


def _floor(model: ChurnModel, snapshot: pd.DataFrame) -> float:
    """Seconds of the model's plain probability predict on the same rows."""
    start = time.perf_counter()
    model.booster.predict(model.matrix(snapshot))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    args = parse_args(argv)
    before = machine()
    console = Console()
    model = (
        ChurnModel.load(args.model_dir)
        if args.model_dir
        else synthetic_model(args.seed, args.trees, args.leaves, args.depth)
    )
    model_shape = shape(model)
    source = f"bundle {args.model_dir}" if args.model_dir else "synthetic (anchor shape)"
    console.print(
        f"model: {source}; {model_shape['model_trees']} trees, "
        f"<= {model_shape['model_leaves_max']} leaves, depth <= {model_shape['model_depth_max']}"
    )
    snapshot = synthetic_features(args.customers, args.seed + 1).drop(columns="label")
    runs, floors = [], []
    for _ in range(args.repeats):
        floors.append(_floor(model, snapshot))
        runs.append(_score(model, snapshot))
    total = Spread.of([r[1] for r in runs])
    floor = Spread.of(floors)
    median_run = sorted(runs, key=lambda r: r[1])[len(runs) // 2]
    scores, phases = median_run[0], median_run[2]

    x = model.matrix(snapshot.iloc[: args.check_rows])
    t0 = time.perf_counter()
    direct = np.asarray(model.booster.predict(x, pred_contrib=True))
    direct_rate = len(x) / (time.perf_counter() - t0)
    max_diff = float(np.abs(dedup_contributions(model.booster, x) - direct).max())
    summary = {
        "customers": args.customers,
        "model_source": source,
        **model_shape,
        **total.as_dict("explain_seconds"),
        **floor.as_dict("floor_seconds"),
        "ratio_to_floor": total.median / floor.median,
        "rows_per_second": args.customers / total.median,
        "rss_peak_mb": peak_rss_mb(),
        "direct_pred_contrib_rows_per_second": direct_rate,
        "max_abs_diff_vs_pred_contrib": max_diff,
        **{f"phase_{k}_seconds": v for k, v in phases.items()},
    }
    table = Table(title=f"explain + reasons, {args.customers:,} customers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for phase, seconds in phases.items():
        table.add_row(f"phase {phase} (median run)", f"{seconds:.1f} s")
    table.add_row("total score_customers", total.text())
    table.add_row("floor: plain predict", floor.text())
    table.add_row("ratio to floor (medians)", f"{summary['ratio_to_floor']:.1f}x")
    table.add_row("rows/s (all phases)", f"{summary['rows_per_second']:,.0f}")
    table.add_row("peak RSS", f"{summary['rss_peak_mb'] / 1024:.2f} GB")
    table.add_row("direct pred_contrib rows/s", f"{direct_rate:,.0f}")
    table.add_row("max |dedup - pred_contrib|", f"{max_diff:.1e}")
    table.add_row("customers with reasons", f"{int((scores['reasons'].list.len() > 0).sum()):,}")
    console.print(table)
    write_report(args.report, "bench_explain", before, summary)


if __name__ == "__main__":
    main()
