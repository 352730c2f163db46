"""What a pipeline run produced, in a few lines: ``churn summary`` (the end of ``make run``).

Outputs with their size, the model against its baselines on the held-out cutoff and
over the backtest folds, the promotion gate's decision, and the exact next command.
Paths come from ``dvc.yaml`` (each stage's ``--flag path`` arguments), so the summary
reads what the stages wrote.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bundle.model import BundleError, ChurnModel

BASELINE_NAMES = {
    "logreg": "logistic regression (log RFM)",
    "bgnbd": "BG/NBD",
    "recency": "days since last order",
    "rules": "vendor rules",
}


def stage_paths(dvc_yaml: Path) -> dict[str, dict[str, str]]:
    """``{stage: {flag: path}}`` from each stage's command in ``dvc.yaml``."""
    stages = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]
    out: dict[str, dict[str, str]] = {}
    for name, stage in stages.items():
        words = shlex.split(stage["cmd"])
        out[name] = {
            w.removeprefix("--"): words[i + 1]
            for i, w in enumerate(words[:-1])
            if w.startswith("--") and not words[i + 1].startswith("--")
        }
    return out


@dataclass(frozen=True)
class Summary:
    """The lines to print and the next command to run."""

    lines: list[str]
    next_command: str


def _metric_row(name: str, m: dict[str, Any], mean: dict[str, Any] | None) -> str:
    row = f"  {name:<31} ROC-AUC {m['roc_auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  ECE {m['ece']:.3f}"
    if mean:
        row += f"  | backtest mean ROC-AUC {mean['roc_auc']:.4f}  PR-AUC {mean['pr_auc']:.4f}"
    return row


def _quality(metrics: dict[str, Any]) -> list[str]:
    means = metrics.get("backtest_mean") or {}
    n = int(metrics["model"]["n"])
    lines = [f"Held-out cutoff {metrics['test_cutoff']} ({n:,} customers):"]
    lines.append(_metric_row("model (GBM + LR blend)", metrics["model"], means.get("model")))
    ordered = sorted(metrics["baselines"], key=lambda k: list(BASELINE_NAMES).index(k)
                     if k in BASELINE_NAMES else len(BASELINE_NAMES))  # fmt: skip
    for key in ordered:
        lines.append(
            _metric_row(BASELINE_NAMES.get(key, key), metrics["baselines"][key], means.get(key))
        )
    return lines


def _scores(path: Path) -> list[str]:
    scores = pd.read_parquet(path, columns=["risk_level", "revenue_at_risk"])
    counts = scores["risk_level"].value_counts()
    levels = ", ".join(f"{counts.get(k, 0):,} {k}" for k in ("high", "medium", "low"))
    return [f"  {path}: {len(scores):,} customers scored ({levels} risk)"]


def _output(path: Path, what: str) -> list[str]:
    return [f"  {path}: {what}"] if path.exists() else [f"  {path}: missing"]


def _next_command(alias: str, version: str | None, champion_before: str | None) -> str:
    if alias == "champion" or champion_before:
        return "make serve"
    return f".venv/bin/churn promote --version {version}  # then: make serve"


def summarize(root: Path) -> Summary:
    """The summary of the outputs under ``root`` (a repository after ``dvc repro``)."""
    paths = stage_paths(root / "dvc.yaml")
    metrics = json.loads((root / paths["evaluate"]["metrics"]).read_text(encoding="utf-8"))
    train = json.loads((root / paths["train"]["report"]).read_text(encoding="utf-8"))
    try:
        meta = ChurnModel.load(root / paths["train"]["model-dir"]).metadata
    except (BundleError, OSError):
        meta = {}
    worklist = root / paths["alerts"]["csv"]
    n_alerts = len(pd.read_csv(worklist)) if worklist.exists() else 0
    lines = ["Outputs:"]
    lines += _scores(root / paths["score"]["scores"])
    lines += _output(root / paths["score"]["csv"], "CRM import (UTF-8 with BOM)")
    lines += _output(worklist, f"{n_alerts:,} alerts this cycle")
    lines += _output(root / paths["report"]["report"], "analyst report")
    lines += _output(root / paths["evaluate"]["plots"], "curves: dvc plots show")
    lines += _quality(metrics)
    registry = train["registry"]
    version = meta.get("model_version")
    lines.append(f"Gate: model v{version} is @{registry['alias']}: {registry['gate']}")
    before = meta.get("champion_before")
    if registry["alias"] != "champion":
        lines.append(
            f"The API keeps serving champion v{before}."
            if before
            else "No champion yet: the API answers 503 until a model is promoted."
        )
    return Summary(lines, _next_command(registry["alias"], version, before))
