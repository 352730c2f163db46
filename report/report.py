"""Stage ``report``: the analyst report ``reports/churn_report.html``, logged to MLflow.

``python -m report.report --params params.yaml --model-dir models/churn
--snapshots data/processed/snapshots.parquet --latest data/processed/latest.parquet
--scores data/scores/latest.parquet --metrics reports/metrics.json
--alerts-performance reports/alerts_performance.json --report reports/churn_report.html``

The held-out cutoff (the last labelled one in the snapshots) feeds the reliability
plot; a seeded sample of the latest snapshot feeds the global drivers; the scores feed
the root-cause distribution and the top customers; the alerts stage's measurement file
feeds the alert-performance section (a clear line when nothing is measured yet). The
page is then logged as an artifact (``reports/``) of the MLflow run that trained the bundle (its
``mlflow_run_id`` metadata), or of a new run in the ``registry.experiment`` when the
bundle names none. MLflow failures are logged, not fatal: the report is the output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from rich.console import Console

from bundle.model import ChurnModel, bundle_digest
from config.report import ReportParams
from config.root import load_params
from config.stage import setup_logging, stage_args
from config.tracking import repo_root, resolve_tracking_uri
from config.training import RegistryParams
from features.catalog import BY_NAME
from report.build import ReportInputs, build_report
from scoring.results import read_scores

logger = logging.getLogger(__name__)

FACT_LABELS: dict[str, dict[str, str]] = {
    "en": {"model_version": "model version", "model_digest": "model content (SHA-256)",
           "calibration": "calibration", "cutoffs": "labelled cutoffs",
           "test_cutoff": "held-out cutoff (calibration plot)", "test_rows": "held-out rows",
           "scored_cutoff": "scored snapshot (as of)", "customers": "customers scored",
           "horizon": "churn horizon (days)"},
    "zh-CN": {"model_version": "模型版本", "model_digest": "模型内容（SHA-256）",
              "calibration": "校准方法", "cutoffs": "带标签截止日",
              "test_cutoff": "留出截止日（校准图）",
              "test_rows": "留出样本数", "scored_cutoff": "评分快照日期",
              "customers": "评分客户数", "horizon": "流失窗口（天）"},
}  # fmt: skip


def _day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def facts(
    model: ChurnModel, digest: str, snapshots: pd.DataFrame, scores: pd.DataFrame, lang: str
) -> dict[str, str]:
    """Data range, cutoffs and model facts, labelled in ``lang``.

    Only facts that change when the results change: the model's version and content
    digest (:func:`bundle.model.bundle_digest`, the same for a retraining that produced
    the same model), not its training time, so a re-run that reproduces the model leaves
    the tracked report unchanged.
    """
    cutoffs = sorted(pd.to_datetime(snapshots["cutoff"]).unique())
    meta = model.metadata
    values = {
        "model_version": str(meta.get("model_version") or "unregistered"),
        "model_digest": digest[:12],
        "calibration": str(getattr(model.calibrator, "kind", "")),
        "cutoffs": f"{_day(cutoffs[0])} … {_day(cutoffs[-1])} ({len(cutoffs)})",
        "test_cutoff": _day(cutoffs[-1]),
        "test_rows": f"{int((pd.to_datetime(snapshots['cutoff']) == cutoffs[-1]).sum()):,}",
        "scored_cutoff": ", ".join(sorted({_day(v) for v in scores["as_of"].unique()})),
        "customers": f"{len(scores):,}",
        "horizon": str(meta.get("horizon_days", "")),
    }
    return {FACT_LABELS[lang][k]: v for k, v in values.items()}


def tracking_uri(registry: RegistryParams, root: Path) -> str:
    """MLFLOW_TRACKING_URI wins; a relative ``sqlite:///`` path is taken from ``root``."""
    return resolve_tracking_uri(registry.tracking_uri, root, os.environ)


def log_report(report: Path, model: ChurnModel, registry: RegistryParams, root: Path) -> str | None:
    """Log ``report`` to the bundle's MLflow run (or a new run); return the run id."""
    if not registry.enabled:
        logger.info("registry disabled: report not logged to MLflow")
        return None
    try:
        mlflow.set_tracking_uri(tracking_uri(registry, root))
        run_id = model.metadata.get("mlflow_run_id")
        if run_id:
            with mlflow.start_run(run_id=str(run_id)):
                mlflow.log_artifact(str(report), artifact_path="reports")
            return str(run_id)
        mlflow.set_experiment(registry.experiment)
        with mlflow.start_run(run_name="report") as run:
            mlflow.log_artifact(str(report), artifact_path="reports")
            return str(run.info.run_id)
    except Exception as exc:  # MLflow is secondary to the report itself
        logger.warning("could not log the report to MLflow: %s", exc)
        return None


def load_inputs(args: argparse.Namespace, params: ReportParams, seed: int) -> ReportInputs:
    """Read the model, snapshots, scores and metrics the report needs."""
    model = ChurnModel.load(args.model_dir)
    snapshots = pd.read_parquet(args.snapshots)
    labelled = snapshots[snapshots["label"].notna()]
    last = pd.to_datetime(labelled["cutoff"]).max()
    test = labelled[pd.to_datetime(labelled["cutoff"]) == last]
    latest = pd.read_parquet(args.latest)
    sample = latest.sample(n=min(len(latest), params.sample_rows), random_state=seed)
    scores = read_scores(str(args.scores))
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics.exists() else {}
    perf_path = Path(args.alerts_performance)
    perf = json.loads(perf_path.read_text(encoding="utf-8")) if perf_path.exists() else None
    missing_ref = [
        n for n in model.feature_names
        if BY_NAME[n].reference == "population" and n not in model.reference
    ]  # fmt: skip
    return ReportInputs(
        model=model, test=test, sample=sample, scores=scores, metrics=metrics,
        facts=facts(model, bundle_digest(args.model_dir), labelled, scores, params.lang),
        reference_from_snapshot=missing_ref,
        alerts_performance=perf,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Parse args, build the report, write it, log it to MLflow."""
    args = stage_args(
        argv, __doc__, "model-dir", "snapshots", "latest", "scores", "metrics",
        "alerts-performance", "report",
    )  # fmt: skip
    setup_logging()
    root = load_params(args.params)
    params, registry, seed = root.report, root.registry, root.seed
    inputs = load_inputs(args, params, seed)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(build_report(inputs, params, seed), encoding="utf-8")
    run_id = log_report(args.report, inputs.model, registry, repo_root(os.environ, Path.cwd()))
    Console().print(f"report -> {args.report} (MLflow run {run_id})")


if __name__ == "__main__":
    main()
