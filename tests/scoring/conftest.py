"""Shared fixtures: a small LightGBM churn model trained on synthetic catalog features."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.catalog import FEATURE_NAMES
from scoring.calibration import fit_isotonic, fit_sigmoid
from scoring.config import ReasonsParams, RiskParams, ScoreConfig, ScoreParams
from scoring.model import ChurnModel
from scoring.rules import RulesParams
from scoring.synthetic import synthetic_features

# The bundled Online Retail export has products but no categories.
MODEL_FEATURES = tuple(n for n in FEATURE_NAMES if "categor" not in n)
SEED = 7


def train_model(
    frame: pd.DataFrame, rounds: int = 40, leaves: int = 15, isotonic: bool = False
) -> ChurnModel:
    """A small booster + calibrator on ``frame`` (train on 70%, calibrate on 30%)."""
    x = frame.loc[:, list(MODEL_FEATURES)].to_numpy(float)
    y = frame["label"].to_numpy()
    cut = int(0.7 * len(frame))
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "verbose": -1,
        "seed": SEED,
        "num_threads": 2,
    }
    booster = lgb.train(params, lgb.Dataset(x[:cut], y[:cut]), num_boost_round=rounds)
    margin = np.asarray(booster.predict(x[cut:], raw_score=True))
    calibrator = fit_isotonic(margin, y[cut:]) if isotonic else fit_sigmoid(margin, y[cut:])
    reference = {n: float(np.nanmedian(frame[n])) for n in MODEL_FEATURES}
    return ChurnModel(
        booster=booster,
        calibrator=calibrator,
        feature_names=MODEL_FEATURES,
        catalog_version="1.0.0",
        reference=reference,
        metadata={"model_version": "test-1", "mlflow_run_id": None},
    )


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    return synthetic_features(4000, seed=SEED)


@pytest.fixture(scope="session")
def model(train_frame: pd.DataFrame) -> ChurnModel:
    return train_model(train_frame)


@pytest.fixture(scope="session")
def snapshot() -> pd.DataFrame:
    return synthetic_features(600, seed=SEED + 1).drop(columns="label")


@pytest.fixture(scope="session")
def score_config() -> ScoreConfig:
    return ScoreConfig(
        reasons=ReasonsParams(top_k=3, min_impact=0.005, low_risk_mode="empty"),
        risk=RiskParams.model_validate(
            {
                "thresholds": {"medium": 0.3, "high": 0.6},
                "by_tier": {"high": {"medium": 0.2, "high": 0.5}},
            }
        ),
        score=ScoreParams(contrib_method="auto", dedup_min_rows=200),
        horizon_days=90,
    )


@pytest.fixture(scope="session")
def rules_params() -> RulesParams:
    return RulesParams()
