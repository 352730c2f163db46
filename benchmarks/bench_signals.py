"""Signals vs orders only, on the synthetic B2B company (issue 14). SYNTHETIC figures.

Generates the company (:mod:`benchmarks.b2b_company`), then runs the real stages
ingest → features → train → evaluate twice in temporary folders with
``params/b2b_example.yaml``: once as it is (orders + five signal tables) and once with
``signals: {}`` (orders only). Both runs see the same orders, so the cutoffs, the
population, the labels and the split are the same; only the feature set differs. It
prints ROC-AUC and PR-AUC of both on the test cutoff and the backtest folds, then
scores the latest snapshot of the signals run and reports, for the customers whose
planted churn falls in the horizon after the end of data, the share whose top reason
(and any of the top 3) names the planted family.

    python -m benchmarks.bench_signals --customers 800 --seed 7 [--no-tuning]

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
from benchmarks.repo_copy import pipeline_env, stage_command

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


def planted_reasons(scores: pd.DataFrame, planted: pd.DataFrame, horizon_days: int) -> dict:
    """Share of planted churners (churn within the horizon after the scored cutoff) whose
    top reason, and any of their reasons, names the planted family."""
    as_of = pd.Timestamp(scores["as_of"].iloc[0])
    due = planted[
        (planted.churn_at > as_of) & (planted.churn_at <= as_of + pd.Timedelta(days=horizon_days))
    ]
    due = due[due.customer_id.isin(scores.customer_id)]
    rows = scores.set_index("customer_id").reindex(due.customer_id)
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "by_cause": {}}
    for cause, group in due.groupby("cause"):
        fams = [
            [r["family"] for r in (reasons if reasons is not None else [])]
            for reasons in rows.loc[group.customer_id, "reasons"]
        ]
        top = sum(1 for f in fams if f and f[0] == cause)
        anyk = sum(1 for f in fams if cause in f)
        out["by_cause"][cause] = {"customers": len(fams), "top1": top, "top3": anyk}
    total = sum(v["customers"] for v in out["by_cause"].values())
    out["customers"] = total
    out["top1_share"] = sum(v["top1"] for v in out["by_cause"].values()) / max(total, 1)
    out["top3_share"] = sum(v["top3"] for v in out["by_cause"].values()) / max(total, 1)
    return out


def test_cutoff_reasons(work: Path, planted: pd.DataFrame, cutoffs: list[str]) -> dict:
    """:func:`planted_reasons` on the labelled snapshot rows of ``cutoffs`` (the backtest
    test cutoffs), scored by the saved model with the score stage's code. The saved model
    is the refit on every labelled cutoff, so these reasons are in-sample explanations."""
    from bundle.model import ChurnModel
    from config.root import load_params
    from scoring.config import score_config
    from scoring.score import score_snapshot

    params = load_params(work / "params.yaml")
    model = ChurnModel.load(work / "models" / "churn")
    config = score_config(params, model.horizon_days)
    snaps = pd.read_parquet(work / "data" / "processed" / "snapshots.parquet")
    per_cutoff = []
    for cutoff in cutoffs:
        rows = snaps[snaps.cutoff == pd.Timestamp(cutoff)].drop(columns="label")
        scores = pd.concat(score_snapshot(model, rows, config, params.rules), ignore_index=True)
        scores["as_of"] = pd.Timestamp(cutoff)
        per_cutoff.append(planted_reasons(scores, planted, model.horizon_days))
    causes = {c for p in per_cutoff for c in p["by_cause"]}
    total = {
        c: {k: sum(p["by_cause"].get(c, {}).get(k, 0) for p in per_cutoff)
            for k in ("customers", "top1", "top3")}
        for c in sorted(causes)
    }  # fmt: skip
    n = sum(v["customers"] for v in total.values())
    return {
        "cutoffs": cutoffs,
        "by_cause": total,
        "customers": n,
        "top1_share": sum(v["top1"] for v in total.values()) / max(n, 1),
        "top3_share": sum(v["top3"] for v in total.values()) / max(n, 1),
    }


def score(work: Path) -> pd.DataFrame:
    """Run the score stage in ``work`` and read the scores."""
    import subprocess

    done = subprocess.run(
        stage_command("score"), cwd=work, env=pipeline_env(work), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"score failed: {done.stderr[-2000:]}")
    return pd.read_parquet(work / "data" / "scores" / "latest.parquet")


def main(argv: list[str] | None = None) -> None:
    """Generate, run both variants, print and optionally write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--no-tuning", action="store_true", help="tuning off in both runs")
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
                horizon = yaml.safe_load(PARAMS.read_text())["features"]["horizon_days"]
                planted = pd.read_parquet(data / "planted.parquet")
                result["planted_reasons_latest"] = planted_reasons(score(work), planted, horizon)
                cutoffs = result[key]["backtest_test_cutoffs"]
                result["planted_reasons_test_cutoffs"] = test_cutoff_reasons(work, planted, cutoffs)
        console.print_json(json.dumps(result, default=str))
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
