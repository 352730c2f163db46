"""Every params file validates section by section, and a typo names the bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from features.config import DataParams, FeatureParams
from features.params import ParamsError, load_section, read_params
from scoring.config import ExplainParams, ReasonsParams, RiskParams, ScoreParams
from scoring.rules import RulesParams
from training.config import (
    BaselineParams,
    EvaluateParams,
    RegistryParams,
    SplitParams,
    TrainParams,
    TuningParams,
)

ROOT = Path(__file__).resolve().parents[1]
SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataParams,
    "features": FeatureParams,
    "reasons": ReasonsParams,
    "risk": RiskParams,
    "score": ScoreParams,
    "explain": ExplainParams,
    "split": SplitParams,
    "train": TrainParams,
    "tuning": TuningParams,
    "baselines": BaselineParams,
    "rules": RulesParams,
    "evaluate": EvaluateParams,
    "registry": RegistryParams,
}
PARAM_FILES = [ROOT / "params.yaml", *sorted((ROOT / "params").glob("*.yaml"))]


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_params_file_has_exactly_the_known_sections(path: Path) -> None:
    raw = read_params(path)
    assert set(raw) == {"seed", *SECTIONS}, f"{path.name}: unknown or missing sections"
    assert isinstance(raw["seed"], int)


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_section_validates(path: Path, section: str) -> None:
    model = load_section(read_params(path), section, SECTIONS[section])
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


def test_a_typo_in_a_nested_key_is_an_error_naming_it(tmp_path: Path) -> None:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"]["columns"]["custmer_id"] = raw["data"]["columns"].pop("customer_id")
    with pytest.raises(ParamsError, match=r"data\.columns\.custmer_id"):
        load_section(raw, "data", DataParams)


def test_a_typo_in_a_section_key_is_an_error_naming_it() -> None:
    raw: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"]["num_leafs"] = 8
    with pytest.raises(ParamsError, match=r"train\.num_leafs"):
        load_section(raw, "train", TrainParams)
