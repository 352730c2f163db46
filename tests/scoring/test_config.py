"""The scoring params sections of params.yaml parse, and typos are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.params import ParamsError, load_section, read_params
from scoring.config import ExplainParams, RegistryView, ScoreParams, load_score_config

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def test_repo_params_parse():
    raw = read_params(PARAMS)
    config = load_score_config(raw)
    assert config.horizon_days == raw["features"]["horizon_days"]
    assert config.reasons.top_k >= 1
    assert config.risk.thresholds.medium < config.risk.thresholds.high
    assert load_section(raw, "explain", ExplainParams).lang in ("en", "zh-CN")
    assert RegistryView.model_validate(raw.get("registry") or {}).experiment


def test_typo_names_the_key():
    with pytest.raises(ParamsError, match=r"score\.chunk_row"):
        load_section({"score": {"chunk_row": 10}}, "score", ScoreParams)


def test_missing_section_is_named():
    raw = read_params(PARAMS)
    raw.pop("risk")
    with pytest.raises(ParamsError, match="'risk'"):
        load_score_config(raw)
