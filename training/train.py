"""``train`` stage: fit on earlier cutoffs, calibrate on validation, compare with the
baselines on the test cutoff, log to MLflow, register and run the promotion gate.

    python -m training.train --params params.yaml \
        --snapshots data/processed/snapshots.parquet \
        --model-dir models/churn --baselines models/baselines.json \
        --report reports/train.json
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from rich.console import Console

from bundle.model import ChurnModel
from bundle.pyfunc import load_registered_bundle
from config.root import Params, load_params
from config.stage import setup_logging, stage_args
from config.tracking import experiment_tags, repo_root, resolve_tracking_uri
from features.catalog import CATALOG_VERSION
from training.baselines import Baselines
from training.behaviour import Check, behavioural_checks
from training.behaviour import failures as behaviour_failures
from training.experiment import explicit_tuning
from training.gate import GateDecision, apply, current_champion, decide
from training.metrics import probability_metrics
from training.pipeline import evaluate_frame, feature_columns, fit_all, score_frame
from training.plots import curve_tables, write_pngs
from training.split import CutoffSplit, make_split, part
from training.tracking import log_and_register

logger = logging.getLogger(__name__)


def data_range(snapshots: pd.DataFrame) -> dict[str, str]:
    """First and last labelled cutoff used (ISO dates)."""
    cutoffs = pd.to_datetime(snapshots["cutoff"])
    return {
        "first_cutoff": cutoffs.min().date().isoformat(),
        "last_cutoff": cutoffs.max().date().isoformat(),
    }


def champion_metrics(
    uri: str, cfg: Params, test: pd.DataFrame
) -> tuple[str | None, dict[str, float] | None, str | None]:
    """(version, metrics on ``test``, problem) of the current champion, if any."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = current_champion(client, cfg.registry)
    if version is None:
        return None, None, None
    try:
        champion, _ = load_registered_bundle(
            uri, cfg.registry.model_name, cfg.registry.champion_alias
        )
        p = champion.predict_proba(test)
    except (KeyError, LookupError, OSError, ValueError) as exc:
        return version, None, f"champion v{version} cannot score the current test data: {exc}"
    ev = cfg.evaluate
    return (
        version,
        probability_metrics(test["label"].to_numpy(), p, ev.top_fractions, ev.ece_bins),
        None,
    )


def register(
    cfg: Params,
    uri: str,
    model_dir: Path,
    model: ChurnModel,
    baselines: Baselines,
    test: pd.DataFrame,
    report: dict[str, Any],
    split: CutoffSplit,
    checks: list[Check],
) -> dict[str, Any]:
    """Log + register the saved bundle, then gate it. Returns registry metadata."""
    champ_version, champ, problem = champion_metrics(uri, cfg, test)
    decision = decide(report["model"], report["baselines"], champ)
    if problem is not None:
        decision = GateDecision(False, (*decision.failures, problem))
    if failed := behaviour_failures(checks):
        decision = GateDecision(False, (*decision.failures, *failed))
    behaviour = {c.name: {"passed": c.passed, "detail": c.detail} for c in checks}
    scores = score_frame(test, model, baselines)
    with tempfile.TemporaryDirectory() as tmp:
        figures = write_pngs(
            curve_tables(test["label"].to_numpy(), scores, cfg.evaluate.ece_bins), Path(tmp)
        )
        run_id, version = log_and_register(
            uri,
            cfg.registry,
            model_dir,
            model,
            test.loc[:, list(model.feature_names)].head(5).astype("float64"),
            params={
                "split": cfg.split.model_dump(),
                "train": model.metadata["params"],
                "tuning": cfg.tuning.model_dump(),
                "baselines": cfg.baselines.model_dump(),
                "rules": cfg.rules.model_dump(),
                "horizon_days": cfg.features.horizon_days,
                "seed": cfg.seed,
                **split.describe(),
            },
            metrics={
                "test": report["model"],
                "baseline": report["baselines"],
                "vs_best_baseline": {
                    k: v for k, v in report["vs_best_baseline"].items() if k != "baseline"
                },
                "behaviour": {
                    "checks": len(checks),
                    "failed": sum(not c.passed for c in checks),
                },
            },
            tags={
                "catalog_version": CATALOG_VERSION,
                **data_range(test),
                **split.describe(),  # type: ignore[dict-item]
                **experiment_tags(os.environ),
            },
            figures=figures,
            documents={"behaviour.json": behaviour},
        )
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    status = apply(client, cfg.registry, version, decision)
    return {
        "model_version": version,
        "mlflow_run_id": run_id,
        "alias": status,
        "champion_before": champ_version,
        "gate": decision.summary(),
        "gate_failures": list(decision.failures),
    }


def run(
    cfg: Params,
    snapshots: pd.DataFrame,
    model_dir: Path,
    baselines_path: Path,
    uri: str | None,
    trained_at: str,
    pinned: list[str] | None = None,
) -> dict[str, Any]:
    """Fit, evaluate on the test cutoff, save the bundle, register and gate.

    ``pinned``: train keys set for this run and kept out of tuning (reported).
    """
    pinned = pinned or []
    feature_columns(snapshots)
    split = make_split(snapshots, cfg.features.horizon_days, cfg.split)
    fitted = fit_all(snapshots, split, cfg)
    test = part(snapshots, split.test)
    report = evaluate_frame(test, fitted.model, fitted.baselines, cfg)
    checks = behavioural_checks(fitted.model, test, cfg.seed)
    model = fitted.model.with_metadata(
        trained_at=trained_at,
        data_range=data_range(snapshots),
        test_metrics=report["model"],
        valid_score=fitted.valid_score,
        calibration=fitted.model.calibrator.kind,
        calibration_cv_log_loss=fitted.calibration_scores,
        alias="unregistered",
        model_version=None,
    )
    model.save(model_dir)
    baselines_path.parent.mkdir(parents=True, exist_ok=True)
    baselines_path.write_text(json.dumps(fitted.baselines.to_dict(), indent=2))
    registry: dict[str, Any] = {"alias": "unregistered", "gate": "registry disabled"}
    if uri is not None:
        registry = register(
            cfg, uri, model_dir, model, fitted.baselines, test, report, split, checks
        )
        model = model.with_metadata(**registry)
        model.save(model_dir)
    return {
        "split": split.describe(),
        "params": fitted.params.model_dump(),
        "tuning": {"enabled": cfg.tuning.enabled, "pinned": pinned},
        "valid_score": fitted.valid_score,
        "selection": fitted.selection,
        "calibration": model.calibrator.kind,
        "test": report,
        "behaviour": {c.name: {"passed": c.passed, "detail": c.detail} for c in checks},
        "registry": registry,
    }


def main(argv: list[str] | None = None) -> int:
    """Stage entry point (wiring only)."""
    args = stage_args(argv, __doc__, "snapshots", "model-dir", "baselines", "report")
    setup_logging()
    cfg = load_params(args.params)
    tuning, pinned = explicit_tuning(args.params, cfg.train, cfg.tuning)
    cfg = cfg.model_copy(update={"tuning": tuning})
    root = repo_root(os.environ, Path.cwd())
    uri = (
        resolve_tracking_uri(cfg.registry.tracking_uri, root, os.environ)
        if cfg.registry.enabled
        else None
    )
    result = run(
        cfg,
        pd.read_parquet(args.snapshots),
        args.model_dir,
        args.baselines,
        uri,
        datetime.now(UTC).isoformat(timespec="seconds"),
        pinned,
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(result, indent=2, default=str))
    reg = result["registry"]
    console = Console()
    name, version = cfg.registry.model_name, reg.get("model_version")
    console.print(f"[bold]{name}[/] v{version}: {reg['alias']} — {reg['gate']}")
    if reg["alias"] == "candidate" and reg.get("champion_before") is None:
        console.print(
            "[yellow]No champion yet: the first candidate failed the gate. Serving will not "
            f"start on it unless an operator runs `churn promote --version {version}`.[/]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
