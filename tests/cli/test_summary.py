"""`churn summary` (the end of `make run`) on the session's real pipeline run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.repo_copy import pipeline_env
from bundle.model import ChurnModel
from cli.summary import stage_paths

ROOT = Path(__file__).resolve().parents[2]


def test_stage_paths_are_the_dvc_yaml_arguments() -> None:
    paths = stage_paths(ROOT / "dvc.yaml")
    assert paths["train"]["report"] == "reports/train.json"
    assert paths["score"]["scores"] == "data/scores/latest.parquet"
    assert paths["evaluate"]["metrics"] == "reports/metrics.json"


def test_make_run_ends_with_the_summary() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert [line.strip() for line in recipe] == ["$(BIN)/dvc repro", "@$(BIN)/churn summary"]


@pytest.mark.slow
def test_summary_states_outputs_quality_gate_and_next_command(pipeline_run: Path) -> None:
    churn = str(Path(sys.executable).parent / "churn")
    out = subprocess.run(
        [churn, "summary"], cwd=pipeline_run, env=pipeline_env(pipeline_run),
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout
    scores = pd.read_parquet(pipeline_run / "data" / "scores" / "latest.parquet")
    assert f"{len(scores):,} customers scored" in text
    high = int((scores["risk_level"] == "high").sum())
    assert f"{high:,} high" in text
    metrics = json.loads((pipeline_run / "reports" / "metrics.json").read_text())
    assert f"ROC-AUC {metrics['model']['roc_auc']:.4f}" in text
    assert f"ROC-AUC {metrics['baselines']['logreg']['roc_auc']:.4f}" in text
    meta = ChurnModel.load(pipeline_run / "models" / "churn").metadata
    assert f"model v{meta['model_version']} is @{meta['alias']}" in text
    last = text.strip().splitlines()[-1]
    if meta["alias"] == "champion":
        assert last == "Next: make serve"
    else:  # the bundled data's first candidate fails the gate
        assert "No champion yet" in text
        promote = f".venv/bin/churn promote --version {meta['model_version']}"
        assert last == f"Next: {promote}  # then: make serve"


def test_summary_without_a_run_says_so(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    churn = str(Path(sys.executable).parent / "churn")
    out = subprocess.run(
        [churn, "summary", "--root", str(tmp_path)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "no complete pipeline run to summarize" in out.stdout and "make run" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
