"""Register the saved bundle in MLflow and gate it against the baselines and the champion.

Used by the ``train`` stage after the bundle is saved: one MLflow run (params, metrics,
curve PNGs, the behaviour checks, the bundle as a pyfunc model), a registered version,
and the gate's decision applied as an alias (:mod:`training.gate`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from bundle.model import BundleError, ChurnModel
from bundle.pyfunc import load_registered_bundle
from config.root import Params
from config.tracking import experiment_tags
from features.catalog import CATALOG_VERSION
from training.backtest import Fold
from training.behaviour import Check
from training.behaviour import failures as behaviour_failures
from training.gate import GateDecision, apply, current_champion, decide
from training.metrics import probability_metrics
from training.plots import curve_tables, write_pngs
from training.tracking import log_and_register

logger = logging.getLogger(__name__)


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
            uri, cfg.registry.model_name, cfg.registry.champion_alias, check_environment=False
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
