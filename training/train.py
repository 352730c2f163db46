"""``train`` stage: evaluate the training procedure on held-out cutoffs, then refit it
one horizon later for the bundle that scores today's customers; register and gate.

1. Rolling backtest (``training.backtest``): the whole procedure (selection on earlier
   folds, out-of-time split, fit, calibration, baselines) per fold; the last fold's
   test cutoff is the latest labelled cutoff (the evaluated split, ``test`` in the
   report).
2. Served refit: the same procedure with the test cutoff moved one horizon later
   (``training.split.served_split``): training labels end by the latest labelled
   cutoff, which is the validation/calibration cutoff. This is the saved bundle.
3. Gate (``training.gate``) on the backtest means; behaviour checks on the served model.

On a short history every degradation (fewer folds, overlapping or customer-holdout
splits, tuning skipped, no held-out evaluation) is listed in ``degradations``.

    python -m training.train --params params.yaml \
        --snapshots data/processed/snapshots.parquet \
        --model-dir models/churn --baselines models/baselines.json \
        --report reports/train.json
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from rich.console import Console

from bundle.model import BundleError, ChurnModel
from bundle.pyfunc import load_registered_bundle
from config.progress import live_progress, steps
from config.root import Params, load_params
from config.stage import setup_logging, stage_args
from config.tracking import experiment_tags, repo_root, resolve_tracking_uri
from features.catalog import CATALOG_VERSION
from training.backtest import Fold, run_fold, summarize
from training.behaviour import Check, behavioural_checks
from training.behaviour import failures as behaviour_failures
from training.experiment import explicit_tuning
from training.gate import GateDecision, apply, current_champion, decide
from training.metrics import probability_metrics
from training.pipeline import FittedRun, feature_columns, fit_all
from training.plots import curve_tables, write_pngs
from training.split import (
    backtest_splits,
    labelled_cutoffs,
    part,
    served_split,
)
from training.tracking import (
    TERMINATION,
    end_open_run_failed,
    fail_runs_on_signals,
    log_and_register,
)

logger = logging.getLogger(__name__)


def data_range(snapshots: pd.DataFrame) -> dict[str, str]:
    """First and last labelled cutoff used (ISO dates)."""
    cutoffs = pd.to_datetime(snapshots["cutoff"])
    return {
        "first_cutoff": cutoffs.min().date().isoformat(),
        "last_cutoff": cutoffs.max().date().isoformat(),
    }


def champion_metrics(
    uri: str, cfg: Params, test: pd.DataFrame | None
) -> tuple[str | None, dict[str, float] | None, str | None]:
    """(version, metrics to compare with, problem) of the current champion, if any.

    A champion that recorded its backtest means (``backtest_mean``) is compared by them:
    its bundle is a refit whose calibration saw the latest labelled cutoff, so scoring
    it there would flatter it. An older champion is scored on ``test``.
    """
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = current_champion(client, cfg.registry)
    if version is None:
        return None, None, None
    try:
        champion, _ = load_registered_bundle(
            uri, cfg.registry.model_name, cfg.registry.champion_alias
        )
        recorded = champion.metadata.get("backtest_mean")
        if isinstance(recorded, dict):
            return version, recorded, None
        if test is None:
            return version, None, f"champion v{version}: no test cutoff to compare on"
        p = champion.predict_proba(test)
    except BundleError as exc:  # an old release's champion: it cannot be served anyway
        logger.warning("champion v%s is not comparable (%s): baselines only", version, exc)
        return version, None, None
    except (KeyError, LookupError, OSError, ValueError) as exc:
        return version, None, f"champion v{version} cannot score the current test data: {exc}"
    ev = cfg.evaluate
    return (
        version,
        probability_metrics(test["label"].to_numpy(), p, ev.top_fractions, ev.ece_bins),
        None,
    )


def gate_decision(
    cfg: Params,
    uri: str,
    summary: dict[str, Any],
    test: pd.DataFrame | None,
    checks: list[Check],
    is_champion: bool = False,
) -> tuple[GateDecision, str | None]:
    """The gate on the backtest means, the champion and the behavioural checks.

    ``is_champion``: the run reproduced the champion's own bundle (same digest, same
    registered version), which is judged on its own merits, not against itself.
    """
    champ_version, champ, problem = champion_metrics(uri, cfg, test)
    if is_champion:
        champ, problem = None, None
    mean = summary["mean"]
    if mean:
        baselines = {n: m for n, m in mean.items() if n != "model"}
        decision = decide(mean["model"], baselines, champ, cfg.evaluate.ece_max)
    else:
        decision = GateDecision(
            False, ("no held-out evaluation: history too short for a test cutoff",)
        )
    extra = [p for p in (problem,) if p is not None] + behaviour_failures(checks)
    if extra:
        decision = GateDecision(False, (*decision.failures, *extra))
    return decision, champ_version


def register(
    cfg: Params,
    uri: str,
    model_dir: Path,
    model: ChurnModel,
    evaluated: Fold | None,
    summary: dict[str, Any],
    checks: list[Check],
    latest: pd.DataFrame,
) -> dict[str, Any]:
    """Log + register the saved bundle, then gate it. Returns registry metadata."""
    example = latest.loc[:, list(model.feature_names)].head(5).astype("float64")
    test = None if evaluated is None else evaluated.test
    decision, champ_version = gate_decision(cfg, uri, summary, test, checks)
    behaviour = {c.name: {"passed": c.passed, "detail": c.detail} for c in checks}
    metrics: dict[str, Any] = {
        "backtest_mean": summary["mean"].get("model", {}),
        "backtest_vs_best_baseline": summary["vs_best_baseline"],
        "behaviour": {"checks": len(checks), "failed": sum(not c.passed for c in checks)},
    }
    with tempfile.TemporaryDirectory() as tmp:
        figures: list[Path] = []
        if evaluated is not None:
            report = evaluated.report
            metrics["test"] = report["model"]
            metrics["baseline"] = report["baselines"]
            metrics["vs_best_baseline"] = {
                k: v for k, v in report["vs_best_baseline"].items() if k != "baseline"
            }
            figures = write_pngs(
                curve_tables(evaluated.y, evaluated.scores, cfg.evaluate.ece_bins), Path(tmp)
            )
        run_id, version = log_and_register(
            uri,
            cfg.registry,
            model_dir,
            model,
            example,
            params={
                "split": cfg.split.model_dump(),
                "train": model.metadata["params"],
                "tuning": cfg.tuning.model_dump(),
                "baselines": cfg.baselines.model_dump(),
                "rules": cfg.rules.model_dump(),
                "horizon_days": cfg.features.horizon_days,
                "seed": cfg.seed,
                **model.metadata["served_split"],
            },
            metrics=metrics,
            tags={
                "catalog_version": CATALOG_VERSION,
                **model.metadata["data_range"],
                **experiment_tags(os.environ),
            },
            figures=figures,
            documents={"behaviour.json": behaviour},
        )
    if champ_version is not None and str(version) == champ_version:
        # a re-run that reproduced the champion's bundle: judge it as the first time
        decision, _ = gate_decision(cfg, uri, summary, test, checks, is_champion=True)
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


def degradations(folds: list[Fold], served: FittedRun, served_note: str | None) -> list[str]:
    """Every way this run fell short of the full procedure, in plain sentences."""
    out: list[str] = []
    if not folds:
        out.append(
            "no held-out evaluation: no labelled cutoff has another one at least "
            "horizon_days earlier; the served model is fitted but not evaluated"
        )
    out += [n for f in folds if (n := f.split.note()) is not None]
    out += [
        str(f.fitted.selection["skipped"])
        for f in folds
        if f.fitted.selection and "skipped" in f.fitted.selection
    ]
    if served_note is not None:
        out.append("served refit: " + served_note)
    if served.selection and "skipped" in served.selection:
        out.append("served refit: " + str(served.selection["skipped"]))
    return out


def run(
    cfg: Params,
    snapshots: pd.DataFrame,
    model_dir: Path,
    baselines_path: Path,
    uri: str | None,
    trained_at: str,
    pinned: list[str] | None = None,
) -> dict[str, Any]:
    """Backtest the procedure, refit it one horizon later, save, register and gate.

    ``pinned``: train keys set for this run and kept out of tuning (reported).
    """
    pinned = pinned or []
    feature_columns(snapshots)
    horizon = cfg.features.horizon_days
    splits = backtest_splits(snapshots, horizon, cfg.split)
    folds = [run_fold(snapshots, s, cfg) for s in steps(splits, "backtest folds")]
    summary = summarize(folds, cfg)
    evaluated = folds[-1] if folds else None
    split = served_split(snapshots, horizon, cfg.split)
    served = fit_all(snapshots, split, cfg)
    latest = part(snapshots, labelled_cutoffs(snapshots)[-1])
    checks = behavioural_checks(served.model, latest, cfg.seed)
    notes = degradations(folds, served, split.note())
    for note in notes:
        logger.warning("degraded: %s", note)
    model = served.model.with_metadata(
        trained_at=trained_at,
        data_range=data_range(snapshots),
        served_split=split.describe(),
        evaluated_split=None if evaluated is None else evaluated.split.describe(),
        test_cutoff=None if evaluated is None else evaluated.split.test.date().isoformat(),
        test_metrics=None if evaluated is None else evaluated.report["model"],
        evaluated_params=None if evaluated is None else evaluated.fitted.params.model_dump(),
        backtest_mean=summary["mean"].get("model"),
        backtest_test_cutoffs=summary.get("test_cutoffs", []),
        degradations=notes,
        valid_score=served.valid_score,
        calibration=served.model.calibrator.kind,
        calibration_cv_log_loss=served.calibration_scores,
        alias="unregistered",
        model_version=None,
    )
    model.save(model_dir)
    baselines_path.parent.mkdir(parents=True, exist_ok=True)
    baselines_path.write_text(json.dumps(served.baselines.to_dict(), indent=2))
    registry: dict[str, Any] = {"alias": "unregistered", "gate": "registry disabled"}
    if uri is not None:
        registry = register(cfg, uri, model_dir, model, evaluated, summary, checks, latest)
        model = model.with_metadata(**registry)
        model.save(model_dir)
    return {
        "degradations": notes,
        "split": None if evaluated is None else evaluated.split.describe(),
        "params": None if evaluated is None else evaluated.fitted.params.model_dump(),
        "selection": None if evaluated is None else evaluated.fitted.selection,
        "test": None if evaluated is None else evaluated.report,
        "backtest": summary,
        "served": {
            "split": split.describe(),
            "params": served.params.model_dump(),
            "selection": served.selection,
            "calibration": model.calibrator.kind,
            **{
                k: model.metadata.get(k)
                for k in (
                    "calibration_cutoffs",
                    "calibration_base_rate",
                    "calibration_choice",
                    "calibration_mean_brier",
                    "calibration_folds",
                )
            },
        },
        "tuning": {"enabled": cfg.tuning.enabled, "pinned": pinned},
        "behaviour": {c.name: {"passed": c.passed, "detail": c.detail} for c in checks},
        "registry": registry,
    }


# Registry facts that change on every run although the results do not (the bundle's
# metadata and MLflow keep them): a git-tracked report without them stays unchanged on a
# re-run that trained the same model.
VOLATILE_REGISTRY_KEYS = ("model_version", "mlflow_run_id", "champion_before")


def tracked_report(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` for ``reports/train.json``: results only, no per-run identifiers."""
    registry = {k: v for k, v in result["registry"].items() if k not in VOLATILE_REGISTRY_KEYS}
    return {**result, "registry": registry}


def main(argv: list[str] | None = None) -> int:
    """Stage entry point (wiring only)."""
    args = stage_args(argv, __doc__, "snapshots", "model-dir", "baselines", "report")
    setup_logging()
    fail_runs_on_signals()
    cfg = load_params(args.params)
    tuning, pinned = explicit_tuning(args.params, cfg.train, cfg.tuning)
    cfg = cfg.model_copy(update={"tuning": tuning})
    root = repo_root(os.environ, Path.cwd())
    uri = (
        resolve_tracking_uri(cfg.registry.tracking_uri, root, os.environ)
        if cfg.registry.enabled
        else None
    )
    try:
        with live_progress():
            result = run(
                cfg,
                pd.read_parquet(args.snapshots),
                args.model_dir,
                args.baselines,
                uri,
                datetime.now(UTC).isoformat(timespec="seconds"),
                pinned,
            )
    except BaseException as exc:  # a signal may surface as a store error while unwinding
        signum = TERMINATION["signum"]
        if signum is None:
            raise
        ended = end_open_run_failed()
        state = "the MLflow run is FAILED" if ended else "the MLflow run could not be closed"
        Console(stderr=True).print(
            f"[bold red]train interrupted ({signal.Signals(signum).name}); {state}[/]"
        )
        logger.debug("unwound with %r", exc)
        return 128 + signum
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(tracked_report(result), indent=2, default=str))
    reg = result["registry"]
    console = Console()
    name, version = cfg.registry.model_name, reg.get("model_version")
    for note in result["degradations"]:
        console.print(f"[yellow]degraded:[/] {note}")
    served = result["served"]
    if served.get("calibration_choice"):  # train.calibration: auto (all_labelled)
        briers = served.get("calibration_mean_brier") or {}
        detail = ", ".join(f"{k} {v:.4f}" for k, v in briers.items())
        console.print(
            f"calibration: {served['calibration_choice']}"
            + (f" (forward-chained mean Brier on the folds: {detail})" if detail else "")
        )
    console.print(f"[bold]{name}[/] v{version}: {reg['alias']} — {reg['gate']}")
    if reg["alias"] == "candidate" and reg.get("champion_before") is None:
        console.print(
            "[yellow]No champion yet: the first candidate failed the gate. Serving will not "
            f"start on it unless an operator runs `churn promote --version {version}`.[/]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
