"""The score stage uses the champion when there is one, else says it used the bundle dir."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bundle.model import ChurnModel
from config.training import RegistryParams
from scoring.model_choice import ModelNotFound, choose_model


def test_no_champion_falls_back_to_the_bundle_in_one_line(
    model: ChurnModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    model.save(tmp_path / "churn")
    with caplog.at_level(logging.INFO):
        chosen, used = choose_model("auto", tmp_path / "churn", RegistryParams())
    assert chosen.feature_names == model.feature_names
    assert used == f"{tmp_path / 'churn'} (vtest-1, unregistered)"
    lines = [r for r in caplog.records if "no champion yet" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    with pytest.raises(ModelNotFound, match="no champion"):
        choose_model("champion", tmp_path / "churn", RegistryParams())
    with pytest.raises(ModelNotFound, match="no model bundle"):
        choose_model(str(tmp_path / "nope"), tmp_path / "churn", RegistryParams())


def test_registry_disabled_uses_the_bundle(model: ChurnModel, tmp_path: Path) -> None:
    model.save(tmp_path / "churn")
    _, used = choose_model("auto", tmp_path / "churn", RegistryParams(enabled=False))
    assert used.startswith(str(tmp_path / "churn"))
    with pytest.raises(ModelNotFound, match="disabled"):
        choose_model("candidate", tmp_path / "churn", RegistryParams(enabled=False))
