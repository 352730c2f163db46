"""The score config takes its horizon from the model bundle, not from params.yaml."""

from __future__ import annotations

from pathlib import Path

from config.root import load_params
from scoring.config import score_config

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def test_score_config_uses_the_given_bundle_horizon():
    params = load_params(PARAMS)
    config = score_config(params, horizon_days=params.features.horizon_days + 30)
    assert config.horizon_days == params.features.horizon_days + 30
    assert config.reasons == params.reasons
    assert config.risk.thresholds.medium < config.risk.thresholds.high
