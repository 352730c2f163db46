"""The promotion gate: pure decisions, and the aliases it sets in a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from bundle.pyfunc import load_registered_bundle
from cli.churn import app
from config.root import load_params
from training.gate import decide
from training.train import run

from .conftest import write_params

GOOD = {"roc_auc": 0.80, "pr_auc": 0.70, "brier": 0.18, "ece": 0.04}
BASE = {"logreg": {"roc_auc": 0.75, "pr_auc": 0.65, "brier": 0.20, "ece": 0.03}}


def test_candidate_beating_baselines_and_no_champion_is_promoted() -> None:
    decision = decide(GOOD, BASE, champion=None, ece_max=0.05)
    assert decision.promote and decision.failures == ()


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc"])
def test_any_baseline_matching_a_ranking_metric_blocks_promotion(metric: str) -> None:
    for value in (GOOD[metric], 0.9):  # a tie is not a win
        decision = decide(GOOD, {**BASE, "bgnbd": {**BASE["logreg"], metric: value}}, None)
        assert not decision.promote
        assert len(decision.failures) == 1
        assert f"bgnbd is not beaten on mean {metric}" in decision.failures[0]


def test_ece_must_be_small_or_no_worse_than_the_best_baseline() -> None:
    assert decide({**GOOD, "ece": 0.05}, BASE, None, ece_max=0.05).promote
    worse = decide({**GOOD, "ece": 0.06}, BASE, None, ece_max=0.05)
    assert not worse.promote and "mean ECE 0.0600" in worse.failures[0]
    shifted = {"logreg": {**BASE["logreg"], "ece": 0.08}}
    assert decide({**GOOD, "ece": 0.07}, shifted, None, ece_max=0.05).promote
    assert decide({**GOOD, "brier": 0.3}, BASE, None).promote  # Brier is reported, not gated


def test_worse_or_equal_candidate_does_not_replace_the_champion() -> None:
    worse = {**GOOD, "roc_auc": 0.79}
    assert not decide(worse, BASE, champion=GOOD).promote
    assert "does not beat the champion" in decide(GOOD, BASE, champion=GOOD).failures[0]
    assert decide({**GOOD, "pr_auc": 0.71}, BASE, champion=GOOD).promote


@pytest.mark.slow
def test_registry_aliases_over_three_trainings(snapshots: pd.DataFrame, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # the aliases are under test, not the synthetic data's calibration: ECE bar relaxed
    good = load_params(
        write_params(
            tmp_path / "good.yaml", uri, tuning={"enabled": False}, evaluate={"ece_max": 0.1}
        )
    )
    worse = load_params(
        write_params(
            tmp_path / "worse.yaml",
            uri,
            tuning={"enabled": False},
            train={"num_boost_round": 2, "num_leaves": 2, "max_depth": 1},
        )
    )
    first = run(good, snapshots, tmp_path / "m1", tmp_path / "b1.json", uri, "t1")
    assert first["registry"]["alias"] == "champion", first["registry"]["gate"]
    second = run(worse, snapshots, tmp_path / "m2", tmp_path / "b2.json", uri, "t2")
    assert second["registry"]["alias"] == "candidate"
    assert any("champion" in f for f in second["registry"]["gate_failures"])

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    aliases = client.get_registered_model("churn-lgbm").aliases
    assert {k: str(v) for k, v in aliases.items()} == {"champion": "1", "candidate": "2"}
    model, version = load_registered_bundle(uri, "churn-lgbm", "champion")
    assert version == "1" and model.metadata["model_version"] == "1"
    assert model.metadata["gate"] == first["registry"]["gate"]  # from the version's tag

    params_file = tmp_path / "good.yaml"
    result = CliRunner().invoke(app, ["promote", "--version", "2", "--params", str(params_file)])
    assert result.exit_code == 0, result.output
    assert str(client.get_registered_model("churn-lgbm").aliases["champion"]) == "2"
