"""Benchmark: explain + reasons for 1M synthetic customers with the trained model shape.

``python -m benchmarks.bench_explain [--customers 1000000] [--model-dir models/churn]
[--anchor] [--check-rows 5000]``

Uses the trained bundle in ``--model-dir`` when it exists (its real trees), else — or
with ``--anchor`` — a LightGBM of ``--trees/--leaves/--depth`` trained on synthetic rows
(default 200 trees x 31 leaves: the issue's anchor, ``pred_contrib`` 1,850 rows/s on
2 cores). Customers come
from :func:`benchmarks.synthetic_features.synthetic_features`. The whole of
:func:`scoring.results.score_customers` runs (exact TreeSHAP by per-tree decision-
pattern deduplication, Shapley family impacts, top-k reasons rendered in en + zh-CN,
vendor rules), and its phases are timed. Exactness is checked on ``--check-rows`` rows
against LightGBM's direct ``pred_contrib``, whose speed is measured on the same rows.
Prints wall time, rows/s and peak RSS (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
from rich.console import Console
from rich.table import Table

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


def shape(model: ChurnModel) -> str:
    """Trees, max leaves per tree and max depth of the booster."""
    info = model.booster.dump_model()["tree_info"]

    def depth(node: dict) -> int:
        if "split_feature" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    leaves = max(t["num_leaves"] for t in info)
    deepest = max(depth(t["tree_structure"]) for t in info)
    return f"{len(info)} trees, <= {leaves} leaves, depth <= {deepest}"


def config() -> ScoreConfig:
    """The repo's defaults for the scoring sections (thresholds do not change the cost)."""
    return ScoreConfig(
        reasons=ReasonsParams(),
        risk=RiskParams.model_validate({"thresholds": {"medium": 0.4, "high": 0.65}}),
        score=ScoreParams(),
        horizon_days=90,
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--model-dir", type=Path, default=Path("models/churn"))
    parser.add_argument("--anchor", action="store_true", help="synthetic model, not the bundle")
    parser.add_argument("--trees", type=int, default=ANCHOR_TREES)
    parser.add_argument("--leaves", type=int, default=ANCHOR_LEAVES)
    parser.add_argument("--depth", type=int, default=-1, help="-1: unlimited (LightGBM)")
    parser.add_argument("--check-rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    console = Console()
    use_bundle = not args.anchor and (args.model_dir / "booster.txt").exists()
    model = (
        ChurnModel.load(args.model_dir)
        if use_bundle
        else synthetic_model(args.seed, args.trees, args.leaves, args.depth)
    )
    source = f"bundle {args.model_dir}" if use_bundle else "synthetic"
    console.print(f"model: {source}; {shape(model)}")
    snapshot = synthetic_features(args.customers, args.seed + 1).drop(columns="label")
    collector = PhaseCollector()
    results_logger = logging.getLogger("scoring.results")
    results_logger.addHandler(collector)
    results_logger.setLevel(logging.DEBUG)
    start = time.perf_counter()
    scores = score_customers(model, snapshot, config(), RulesParams(), top_k=3)
    total = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    x = model.matrix(snapshot.iloc[: args.check_rows])
    t0 = time.perf_counter()
    direct = np.asarray(model.booster.predict(x, pred_contrib=True))
    direct_rate = len(x) / (time.perf_counter() - t0)
    max_diff = float(np.abs(dedup_contributions(model.booster, x) - direct).max())

    table = Table(title=f"explain + reasons, {args.customers:,} customers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for phase, seconds in collector.seconds.items():
        table.add_row(f"phase {phase}", f"{seconds:.1f} s")
    table.add_row("total score_customers", f"{total:.1f} s")
    table.add_row("rows/s (all phases)", f"{args.customers / total:,.0f}")
    table.add_row("peak RSS", f"{peak_gb:.2f} GB")
    table.add_row("direct pred_contrib rows/s", f"{direct_rate:,.0f}")
    table.add_row("max |dedup - pred_contrib|", f"{max_diff:.1e}")
    table.add_row("customers with reasons", f"{int((scores['reasons'].list.len() > 0).sum()):,}")
    console.print(table)


if __name__ == "__main__":
    main()
