"""Serving test fixtures: a real small ChurnModel trained on synthetic catalog features.

The model is a genuine LightGBM booster with sigmoid calibration (bundle.model +
bundle.calibration), so the API is exercised end to end on real predictions; training
takes well under a second.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from benchmarks.synthetic_features import feature_params, synthetic_features
from bundle.calibration import fit_sigmoid
from bundle.model import ChurnModel
from config.root import load_params
from features.catalog import feature_names
from scoring.reasons import resolve_reference
from serving.app import create_app
from serving.backend import PipelineParams, PipelineScorer, model_info, order_columns
from serving.service import Loaded
from serving.settings import Settings

CLIENT_KEY = "client-key-for-tests"
ADMIN_KEY = "admin-key-for-tests"
N_CUSTOMERS = 300
FEATURE_PARAMS = feature_params()
PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"
#: The bundled data has products but no categories: train on the features it yields.
FEATURES = tuple(feature_names({"product_id", "quantity"}))


def train_model(seed: int, n: int = 2000, rounds: int = 30) -> ChurnModel:
    """A small calibrated LightGBM churn model on synthetic catalog features."""
    frame = synthetic_features(n, seed)
    x = frame.loc[:, list(FEATURES)].to_numpy(dtype=float)
    params = {"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "verbose": -1,
              "seed": seed, "deterministic": True, "num_threads": 1}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(x, frame["label"].to_numpy()), rounds)
    margin = np.asarray(booster.predict(x, raw_score=True))
    reference = frame.loc[:, list(FEATURES)].median().to_dict()
    return ChurnModel.new(
        booster,
        fit_sigmoid(margin, frame["label"].to_numpy()),
        FEATURES,
        FEATURE_PARAMS,
        reference={str(k): float(v) for k, v in reference.items()},
        metadata={"model_version": f"test-{seed}", "trained_at": "2026-11-24T00:00:00"},
    )


def snapshot(n: int = N_CUSTOMERS, seed: int = 7) -> pd.DataFrame:
    """A latest-snapshot-like frame: customer_id, cutoff and catalog features."""
    return synthetic_features(n, seed).drop(columns=["label"])


class SyntheticBackend:
    """The real pipeline scorer over an in-memory model and snapshot (swappable)."""

    def __init__(self, model: ChurnModel, snap: pd.DataFrame) -> None:
        self.model = model
        self.snap = snap
        self.fail_next = False
        self.loads = 0

    def load(self) -> Loaded:
        if self.fail_next:
            raise RuntimeError("model store unreachable")
        self.loads += 1
        params = PipelineParams.for_model(load_params(PARAMS), self.model)
        names = self.model.feature_names
        reference = resolve_reference(self.model.reference, self.snap, names)
        scorer = PipelineScorer(self.model, params, reference, order_columns(names))
        info = model_info(self.model, uri="memory://test", name="churn-lgbm", alias="champion")
        return Loaded(scorer, self.snap, info, params.score.reasons.top_k)


@pytest.fixture(scope="session")
def model_a() -> ChurnModel:
    return train_model(seed=1)


@pytest.fixture(scope="session")
def model_b() -> ChurnModel:
    return train_model(seed=2, rounds=20)


@pytest.fixture()
def backend(model_a: ChurnModel) -> SyntheticBackend:
    return SyntheticBackend(model_a, snapshot())


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: known keys, blocking startup load, no environment reads."""
    base: dict[str, Any] = {"api_keys": CLIENT_KEY, "admin_key": ADMIN_KEY,
                            "startup_load": "blocking", "max_batch_size": 50,
                            "db_url": f"sqlite:///{tempfile.mkdtemp()}/alerts.db"}  # fmt: skip
    return Settings(**{**base, **overrides})


@pytest.fixture()
def client(backend: SyntheticBackend) -> Iterator[TestClient]:
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        yield c
