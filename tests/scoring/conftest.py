"""Shared fixtures: a small LightGBM churn model trained on synthetic catalog features."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from benchmarks.synthetic_features import feature_params, synthetic_features
from bundle.calibration import fit_isotonic, fit_sigmoid
from bundle.model import ChurnModel
from config.scoring import ReasonsParams, RiskParams, RulesParams, ScoreParams
from features.catalog import ORDER_FEATURE_NAMES as FEATURE_NAMES
from scoring.config import ScoreConfig

# The bundled Online Retail export has products but no categories.
MODEL_FEATURES = tuple(n for n in FEATURE_NAMES if "categor" not in n)
SEED = 7
FEATURE_PARAMS = feature_params()


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
    return ChurnModel.new(
        booster,
        calibrator,
        MODEL_FEATURES,
        FEATURE_PARAMS,
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


def write_params(path, registry_enabled: bool = False, lang: str = "en") -> None:
    """The repo's params.yaml with the registry pointed at a local file (or disabled)."""
    from pathlib import Path

    import yaml

    from config.base import read_params

    raw = read_params(Path(__file__).resolve().parents[2] / "params.yaml")
    raw["registry"] = {**raw.get("registry", {}), "enabled": registry_enabled,
                       "tracking_uri": "sqlite:///mlflow.db"}  # fmt: skip
    raw["report"] = {**raw["report"], "lang": lang, "sample_rows": 400}
    Path(path).write_text(yaml.safe_dump(raw, allow_unicode=True))


@pytest.fixture(scope="session")
def pipeline_dir(tmp_path_factory, train_frame, model, snapshot):
    """A tiny pipeline workspace: bundle, snapshots, latest, scores and metrics on disk."""
    import json

    from scoring import score

    root = tmp_path_factory.mktemp("pipeline")
    (root / "data").mkdir()
    (root / "reports").mkdir()
    model.save(root / "models" / "churn")
    snaps = train_frame.copy()
    snaps["cutoff"] = pd.to_datetime("2011-06-01") + pd.to_timedelta(
        (np.arange(len(snaps)) % 4) * 30, unit="D"
    )
    snaps.to_parquet(root / "data" / "snapshots.parquet")
    snapshot.to_parquet(root / "data" / "latest.parquet")
    metrics = {
        "model": {"roc_auc": 0.8, "pr_auc": 0.7, "brier": 0.17},
        "baselines": {"rfm_logreg": {"roc_auc": 0.75, "pr_auc": 0.6, "brier": 0.19}},
    }
    (root / "reports" / "metrics.json").write_text(json.dumps(metrics))
    write_params(root / "params.yaml")
    score.main([
        "--params", str(root / "params.yaml"), "--model-dir", str(root / "models" / "churn"),
        "--latest", str(root / "data" / "latest.parquet"),
        "--scores", str(root / "data" / "scores.parquet"),
        "--csv", str(root / "data" / "scores.csv"),
    ])  # fmt: skip
    return root


def report_args(root, report_name: str = "churn_report.html") -> list[str]:
    """CLI arguments of the report stage inside ``pipeline_dir``."""
    return [
        "--params", str(root / "params.yaml"), "--model-dir", str(root / "models" / "churn"),
        "--snapshots", str(root / "data" / "snapshots.parquet"),
        "--latest", str(root / "data" / "latest.parquet"),
        "--scores", str(root / "data" / "scores.parquet"),
        "--metrics", str(root / "reports" / "metrics.json"),
        "--alerts-performance", str(root / "reports" / "alerts_performance.json"),
        "--report", str(root / "reports" / report_name),
    ]  # fmt: skip


@pytest.fixture(scope="session")
def report_path(pipeline_dir):
    """The report stage's HTML report built in ``pipeline_dir``."""
    from report import report as report_stage

    report_stage.main(report_args(pipeline_dir))
    return pipeline_dir / "reports" / "churn_report.html"
