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
        --report reports/train.json --test-scores data/processed/test_scores.parquet

``--test-scores``: the evaluated fold's held-out rows with every scorer's probability
(the ``evaluate`` stage draws its curves from them instead of refitting the fold).
"""

from __future__ import annotations

import json
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from config.progress import live_progress, steps
from config.root import Params, load_params
from config.stage import setup_logging, stage_args
from config.tracking import repo_root, resolve_tracking_uri
from training.backtest import Fold, run_fold, summarize, test_scores
from training.behaviour import behavioural_checks
from training.experiment import explicit_tuning
from training.pipeline import FittedRun, feature_columns, fit_all
from training.registration import register
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
)

logger = logging.getLogger(__name__)


def data_range(snapshots: pd.DataFrame) -> dict[str, str]:
    """First and last labelled cutoff used (ISO dates)."""
    cutoffs = pd.to_datetime(snapshots["cutoff"])
    return {
        "first_cutoff": cutoffs.min().date().isoformat(),
        "last_cutoff": cutoffs.max().date().isoformat(),
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
    scores_path: Path | None = None,
) -> dict[str, Any]:
    """Backtest the procedure, refit it one horizon later, save, register and gate.

    ``pinned``: train keys set for this run and kept out of tuning (reported).
    ``scores_path``: where to write the evaluated fold's held-out scores
    (:func:`training.backtest.test_scores`), which the ``evaluate`` stage plots.
    """
    pinned = pinned or []
    feature_columns(snapshots)
    horizon = cfg.features.horizon_days
    splits = backtest_splits(snapshots, horizon, cfg.split)
    folds = [run_fold(snapshots, s, cfg) for s in steps(splits, "backtest folds")]
    summary = summarize(folds, cfg)
    evaluated = folds[-1] if folds else None
    if scores_path is not None:
        scores_path.parent.mkdir(parents=True, exist_ok=True)
        test_scores(evaluated).to_parquet(scores_path, index=False)
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
    args = stage_args(argv, __doc__, "snapshots", "model-dir", "baselines", "report", "test-scores")
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
    result = None
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
                args.test_scores,
            )
    except BaseException as exc:  # a signal may surface as a store error while unwinding
        if TERMINATION["signum"] is None:
            raise
        logger.debug("unwound with %r", exc)
    if result is None:  # interrupted: the run is ended outside the except block, whose
        # traceback would keep the interrupted frames, and any store transaction they
        # hold, alive (every retry would then meet "database is locked")
        signum = int(TERMINATION["signum"])
        status = end_open_run_failed()
        state = {
            "FAILED": "the MLflow run is FAILED",
            "FINISHED": "the MLflow run had finished before the signal took effect",
            None: "no MLflow run was open",
        }.get(status, "the MLflow run could not be closed")
        Console(stderr=True).print(
            f"[bold red]train interrupted ({signal.Signals(signum).name}); {state}[/]"
        )
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
