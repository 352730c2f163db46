"""Signals vs orders only, on the synthetic B2B company (issue 14). SYNTHETIC figures.

Generates the company (:mod:`benchmarks.b2b_company`), then runs the real stages
ingest → features → train → evaluate twice in temporary folders with
``params/b2b_example.yaml``: once as it is (orders + five signal tables) and once with
``signals: {}`` (orders only). Both runs see the same orders, so the cutoffs, the
population, the labels and the split are the same; only the feature set differs. It
prints ROC-AUC and PR-AUC of both on the test cutoff and the backtest folds, then
scores the latest snapshot and the backtest test cutoffs of the signals run and
reports, for the customers whose planted churn falls in the horizon after the cutoff
and whose planted cause is already visible in the data at the cutoff (the generator's
ground truth, ``visible_from`` in ``planted.parquet``), the share whose top reason (and
any of the top 3) names the planted family, per family and in all.

    python -m benchmarks.bench_signals --customers 800 --seed 7 [--no-tuning]
        [--explain-rows 10000] [--out FILE]

``--explain-rows`` also times the family impacts (the Shapley step over the 13
families) of that many snapshot rows, exact over every family vs as served
(``score.shapley_max_players``), and reports how far apart they are.

The gains are those of effects planted by the generator; they say nothing about a real
company.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console

from benchmarks.b2b_company import write_company
from benchmarks.bench_quality import run_stages

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "b2b_example.yaml"


def workdir(base: Path, data: Path, *, signals: bool, tuning: bool) -> Path:
    """A folder with the example params (signals dropped when asked) and the data linked.

    ``tuning=False`` turns the hyper-parameter search off in both variants alike (the
    ``train:`` settings as they stand): about 4x faster on a loaded machine.
    """
    work = base / ("signals" if signals else "orders_only")
    (work / "data" / "raw").mkdir(parents=True)
    (work / "data" / "raw" / "b2b").symlink_to(data)
    raw = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    if not signals:
        raw["signals"] = {}
    if not tuning:
        raw["tuning"]["enabled"] = False
    (work / "params.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return work


def quality(work: Path) -> dict[str, Any]:
    """Test-cutoff and backtest-mean ROC-AUC / PR-AUC of the model."""
    metrics = json.loads((work / "reports" / "metrics.json").read_text())
    backtest = json.loads((work / "reports" / "backtest.json").read_text())
    return {
        "test_cutoff": metrics["test_cutoff"],
        "n": metrics["model"]["n"],
        "roc_auc": metrics["model"]["roc_auc"],
        "pr_auc": metrics["model"]["pr_auc"],
        "backtest_roc_auc": backtest["mean"]["model"]["roc_auc"],
        "backtest_pr_auc": backtest["mean"]["model"]["pr_auc"],
        "backtest_test_cutoffs": backtest["test_cutoffs"],
    }


SHARE_KEYS = ("due", "visible", "flagged", "top1", "top3", "ranked_top1", "ranked_top3")


def _shares(by_cause: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Totals over causes, and each count's share of the visible customers."""
    total: dict[str, Any] = {k: sum(v[k] for v in by_cause.values()) for k in SHARE_KEYS}
    for v in (*by_cause.values(), total):
        for k in SHARE_KEYS[2:]:
            v[f"{k}_share"] = v[k] / v["visible"] if v["visible"] else None
    return {"by_cause": by_cause, **total}


def _families(scores: pd.DataFrame, ids: pd.Series) -> list[list[str]]:
    """The reason families of ``ids``, best first (at most ``reasons.top_k``)."""
    cells = scores.set_index("customer_id").loc[ids, "reasons"]
    return [[r["family"] for r in (c if c is not None else [])] for c in cells]


def planted_reasons(
    scores: pd.DataFrame, ranked: pd.DataFrame, planted: pd.DataFrame, horizon_days: int
) -> dict:
    """How often the reasons name the planted cause where it is visible at the cutoff.

    ``scores`` are the served scores of one cutoff; ``ranked`` the same customers scored
    as if every one were at risk (low-risk customers are served no reasons, so this shows
    what the reasons would say). Per planted cause, among the scored customers whose
    churn day falls in the horizon after the cutoff ``T`` (``due``): those whose cause
    shows in the data before ``T`` (``visible``: the generator's ``visible_from < T``);
    of those, the ones served reasons (``flagged``: medium or high risk), the ones whose
    served top reason (``top1``) or any served reason (``top3``) names the planted
    family, and the same for the ranked reasons (``ranked_top1``, ``ranked_top3``).
    """
    as_of = pd.Timestamp(scores["as_of"].iloc[0])
    due = planted[
        (planted.churn_at > as_of) & (planted.churn_at <= as_of + pd.Timedelta(days=horizon_days))
    ]
    due = due[due.customer_id.isin(scores.customer_id)]
    risk = scores.set_index("customer_id")["risk_level"]
    by_cause: dict[str, dict[str, Any]] = {}
    for cause, group in due.groupby("cause"):
        seen = group[group.visible_from.notna() & (group.visible_from < as_of)].customer_id
        served, ranks = _families(scores, seen), _families(ranked, seen)
        by_cause[str(cause)] = {
            "due": len(group),
            "visible": len(seen),
            "flagged": int((risk.loc[seen] != "low").sum()),
            "top1": sum(1 for f in served if f[:1] == [cause]),
            "top3": sum(1 for f in served if cause in f),
            "ranked_top1": sum(1 for f in ranks if f[:1] == [cause]),
            "ranked_top3": sum(1 for f in ranks if cause in f),
        }
    return {"as_of": as_of.isoformat(), **_shares(by_cause)}


def cutoff_reasons(work: Path, planted: pd.DataFrame, cutoffs: list[str | None]) -> dict:
    """:func:`planted_reasons` summed over ``cutoffs`` (``None``: the latest snapshot),
    scored by the saved model with the score stage's code (:func:`score_snapshot`).

    The labelled cutoffs are scored by the refit on every labelled cutoff, so their
    reasons are in-sample explanations.
    """
    from bundle.model import ChurnModel
    from config.root import load_params
    from config.scoring import RiskParams, RiskThresholds
    from scoring.config import score_config
    from scoring.score import score_snapshot

    params = load_params(work / "params.yaml")
    model = ChurnModel.load(work / "models" / "churn")
    config = score_config(params, model.horizon_days)
    everyone = RiskParams(thresholds=RiskThresholds(medium=1e-12, high=2e-12))
    at_risk = config.model_copy(update={"risk": everyone})
    snaps = pd.read_parquet(work / "data" / "processed" / "snapshots.parquet")
    latest = pd.read_parquet(work / "data" / "processed" / "latest.parquet")
    per_cutoff = []
    for cutoff in cutoffs:
        rows = latest if cutoff is None else snaps[snaps.cutoff == pd.Timestamp(cutoff)]
        rows = rows.drop(columns="label", errors="ignore")
        served, ranked = (
            pd.concat(score_snapshot(model, rows, c, params.rules), ignore_index=True)
            for c in (config, at_risk)
        )
        per_cutoff.append(planted_reasons(served, ranked, planted, model.horizon_days))
    causes = sorted({c for p in per_cutoff for c in p["by_cause"]})
    by_cause = {
        c: {k: sum(p["by_cause"].get(c, {}).get(k, 0) for p in per_cutoff) for k in SHARE_KEYS}
        for c in causes
    }
    return {"cutoffs": [p["as_of"] for p in per_cutoff], **_shares(by_cause)}


def explain_cost(work: Path, rows: int, seed: int) -> dict[str, Any]:
    """Seconds to compute the family impacts of ``rows`` labelled snapshot rows (drawn
    with replacement) exactly over every family and as served (at most
    ``score.shapley_max_players`` players), and how far apart the two are."""
    import time

    import numpy as np

    from bundle.model import ChurnModel
    from config.root import load_params
    from scoring.contributions import tree_contributions
    from scoring.reasons import family_contributions, family_map, shapley_impacts

    params = load_params(work / "params.yaml")
    model = ChurnModel.load(work / "models" / "churn")
    snaps = pd.read_parquet(work / "data" / "processed" / "snapshots.parquet")
    sample = snaps.drop(columns="label").sample(rows, replace=True, random_state=seed)
    x = model.matrix(model.conform(sample))
    booster = tree_contributions(model.booster, x, "auto", params.score.dedup_min_rows)
    contrib = model.blend_contributions(booster, x)
    fam = family_contributions(contrib, family_map(model.feature_names))
    out: dict[str, Any] = {"rows": rows, "families": fam.shape[1],
                           "nonzero_families_mean": float((fam != 0).sum(axis=1).mean()),
                           "max_players": params.score.shapley_max_players}  # fmt: skip
    impacts = {}
    for name, bound in (("exact", None), ("served", params.score.shapley_max_players)):
        start = time.perf_counter()
        impacts[name], _ = shapley_impacts(
            fam, contrib[:, -1], model.calibrator, params.score.impact_chunk_rows, bound
        )
        out[f"{name}_seconds"] = time.perf_counter() - start
    top3 = {k: np.argsort(-v, axis=1, kind="stable")[:, :3] for k, v in impacts.items()}
    out["max_abs_difference"] = float(np.abs(impacts["exact"] - impacts["served"]).max())
    out["same_top3_order_share"] = float((top3["exact"] == top3["served"]).all(axis=1).mean())
    return out


def main(argv: list[str] | None = None) -> None:
    """Generate, run both variants, print and optionally write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--no-tuning", action="store_true", help="tuning off in both runs")
    parser.add_argument(
        "--explain-rows",
        type=int,
        default=10_000,
        help="rows for the exact vs served family-impact timing (0: skip)",
    )
    args = parser.parse_args(argv)
    console = Console()
    base = Path(tempfile.mkdtemp(prefix="bench-signals-"))
    try:
        data = base / "b2b"
        write_company(data, args.customers, args.seed)
        result: dict[str, Any] = {
            "customers": args.customers,
            "seed": args.seed,
            "tuning": not args.no_tuning,
        }
        for signals in (True, False):
            work = workdir(base, data, signals=signals, tuning=not args.no_tuning)
            seconds = run_stages(work, console)
            key = "signals" if signals else "orders_only"
            result[key] = quality(work) | {"seconds": seconds}
            if signals:
                planted = pd.read_parquet(data / "planted.parquet")
                result["planted_reasons_latest"] = cutoff_reasons(work, planted, [None])
                cutoffs = result[key]["backtest_test_cutoffs"]
                result["planted_reasons_test_cutoffs"] = cutoff_reasons(work, planted, cutoffs)
                if args.explain_rows:
                    result["explain_cost"] = explain_cost(work, args.explain_rows, args.seed)
        console.print_json(json.dumps(result, default=str))
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
