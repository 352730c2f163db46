"""The bundle owns its contract: written at training, verified and enforced at load."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.synthetic_features import feature_params, synthetic_features
from bundle.model import (
    BOOSTER_FILE,
    BUNDLE_FILE,
    LINEAR_FILE,
    MANIFEST_FILE,
    BundleError,
    ChurnModel,
)
from config.features import ValueTiers
from config.root import load_params
from features.catalog import CATALOG_VERSION
from features.reason_codes import REASON_CODES_VERSION
from scoring.config import score_config
from tests.serving.conftest import FEATURES, train_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    return train_model(seed=3, rounds=15)


def test_round_trip_keeps_the_contract_and_the_predictions(model: ChurnModel, tmp_path: Path):
    model.save(tmp_path / "b")
    loaded = ChurnModel.load(tmp_path / "b")
    assert loaded.contract() == model.contract()
    assert loaded.contract()["catalog_version"] == CATALOG_VERSION
    assert loaded.contract()["reason_codes_version"] == REASON_CODES_VERSION
    assert loaded.horizon_days == feature_params().horizon_days
    frame = synthetic_features(200, seed=5)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


@pytest.mark.parametrize("keep", [0.02, 0.5, 0.99])
def test_a_truncated_booster_is_refused_before_lightgbm_reads_it(
    model: ChurnModel, tmp_path: Path, keep: float
):
    model.save(tmp_path / "b")
    booster = tmp_path / "b" / BOOSTER_FILE
    data = booster.read_bytes()
    booster.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(BundleError, match=r"booster\.txt does not match its manifest"):
        ChurnModel.load(tmp_path / "b")


def test_a_bundle_without_manifest_is_refused(model: ChurnModel, tmp_path: Path):
    model.save(tmp_path / "b")
    (tmp_path / "b" / MANIFEST_FILE).unlink()
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        ChurnModel.load(tmp_path / "b")


def _rewrite_meta(directory: Path, **updates: object) -> None:
    """Change bundle.json and re-sign the manifest (a well-formed bundle of another contract)."""
    import hashlib

    meta = json.loads((directory / BUNDLE_FILE).read_text())
    meta.update(updates)
    data = json.dumps(meta).encode()
    (directory / BUNDLE_FILE).write_bytes(data)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest[BUNDLE_FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_an_unknown_catalog_version_is_refused_with_a_clear_message(
    model: ChurnModel, tmp_path: Path
):
    model.save(tmp_path / "b")
    _rewrite_meta(tmp_path / "b", catalog_version="0.9.0")
    with pytest.raises(BundleError, match=r"catalog version '0\.9\.0' cannot be served.*retrain"):
        ChurnModel.load(tmp_path / "b")


def test_save_replaces_an_older_bundle_whole(model: ChurnModel, tmp_path: Path):
    other = train_model(seed=4, rounds=5)
    other.save(tmp_path / "b")
    model.save(tmp_path / "b")
    assert ChurnModel.load(tmp_path / "b").booster.num_trees() == model.booster.num_trees()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary debris


def test_params_horizon_mismatch_is_reported_and_the_bundle_horizon_used(model: ChurnModel):
    params = load_params(ROOT / "params.yaml")
    changed = params.model_copy(
        update={
            "features": params.features.model_copy(
                update={"horizon_days": model.horizon_days + 30,
                        "value_tiers": ValueTiers(medium=1.0, high=2.0)}
            )
        }
    )  # fmt: skip
    problems = model.params_mismatch(changed.features)
    assert len(problems) == 2
    assert f"{model.horizon_days + 30} in params but {model.horizon_days}" in problems[0]
    assert score_config(changed, model.horizon_days).horizon_days == model.horizon_days
    online = model.feature_params(changed.features)
    assert (online.horizon_days, online.value_tiers) == (model.horizon_days, model.value_tiers)
    assert model.params_mismatch(params.features) == []
    assert tuple(model.feature_names) == FEATURES


def test_a_snapshot_built_with_other_tiers_is_scored_with_the_bundle_tiers(model: ChurnModel):
    frame = synthetic_features(300, seed=9)
    tiers = model.value_tiers
    spend = frame["spend_365d"].to_numpy()
    expected = np.where(spend >= tiers.high, 2, np.where(spend >= tiers.medium, 1, 0))
    right = frame.assign(value_tier=expected.astype("int8"))
    wrong = frame.assign(value_tier=np.int8(2))  # as if params.yaml had tiny thresholds
    assert (model.conform(wrong)["value_tier"].to_numpy() == expected).all()
    np.testing.assert_array_equal(model.predict_proba(wrong), model.predict_proba(right))


def test_feature_settings_and_code_versions_are_part_of_the_contract(model: ChurnModel):
    params = feature_params()
    assert model.feature_settings["single_order_gap_days"] == params.single_order_gap_days
    changed = params.model_copy(update={"single_order_gap_days": 30.0})
    assert any("single_order_gap_days is 30.0" in m for m in model.params_mismatch(changed))
    assert model.feature_params(changed).single_order_gap_days == params.single_order_gap_days
    older = replace(model, reason_codes_version="0.1.0")
    assert any("reason codes version 0.1.0" in m for m in older.params_mismatch(params))


def test_a_bundle_missing_a_contract_field_is_refused(model: ChurnModel, tmp_path: Path):
    model.save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / BUNDLE_FILE).read_text())
    del meta["horizon_days"]
    (tmp_path / "b" / BUNDLE_FILE).write_text(json.dumps(meta))
    _resign(tmp_path / "b")
    with pytest.raises(BundleError, match=r"contract field missing or invalid.*horizon_days"):
        ChurnModel.load(tmp_path / "b")


def _resign(directory: Path) -> None:
    import hashlib

    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    data = (directory / BUNDLE_FILE).read_bytes()
    manifest[BUNDLE_FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_a_registered_version_this_code_cannot_load_is_a_bundle_error(monkeypatch):
    """A version logged by an older release (its pyfunc class moved) is refused clearly."""
    import mlflow.pyfunc

    from bundle import pyfunc

    class Client:
        def __init__(self, **_: object) -> None: ...

        def get_model_version_by_alias(self, name: str, alias: str) -> object:
            return type("V", (), {"version": "7"})()

    def old_release(uri: str, **_: object) -> None:
        raise ModuleNotFoundError("No module named 'scoring.mlflow_model'")

    monkeypatch.setattr(pyfunc, "MlflowClient", Client)
    monkeypatch.setattr(mlflow.pyfunc, "load_model", old_release)
    with pytest.raises(
        BundleError, match=r"v7 cannot be loaded by this code.*scoring\.mlflow_model"
    ):
        pyfunc.load_registered_bundle("sqlite:///unused.db", "churn-lgbm", "champion")


@pytest.mark.parametrize("tags", [{"gate": "promoted: beats every baseline"}, {}])
def test_a_registered_version_reports_the_gate_decision_of_its_tag(
    model: ChurnModel, monkeypatch: pytest.MonkeyPatch, tags: dict[str, str]
) -> None:
    """The gate decides after the bundle was logged: its note is the version's tag."""
    import mlflow.pyfunc

    from bundle import pyfunc

    logged = model.with_metadata(gate=None, model_version=None)
    wrapper = pyfunc.ChurnPyfunc()
    wrapper.model = logged

    class Client:
        def __init__(self, **_: object) -> None: ...

        def get_model_version_by_alias(self, name: str, alias: str) -> object:
            return type("V", (), {"version": "3", "tags": tags})()

    loaded = type("Loaded", (), {"unwrap_python_model": lambda self: wrapper})()
    monkeypatch.setattr(pyfunc, "MlflowClient", Client)
    monkeypatch.setattr(mlflow.pyfunc, "load_model", lambda uri, **_: loaded)
    served, version = pyfunc.load_registered_bundle("sqlite:///unused.db", "churn-lgbm")
    assert version == "3" and served.metadata["model_version"] == "3"
    assert served.metadata["alias"] == "champion"
    assert served.metadata["gate"] == tags.get("gate")


def test_a_half_written_linear_part_is_refused(model: ChurnModel, tmp_path: Path):
    model.save(tmp_path / "b")
    linear = tmp_path / "b" / LINEAR_FILE
    linear.write_bytes(linear.read_bytes()[:7])
    with pytest.raises(BundleError, match=r"linear\.json does not match its manifest"):
        ChurnModel.load(tmp_path / "b")


def test_a_blend_weight_outside_0_1_is_refused(model: ChurnModel, tmp_path: Path):
    model.save(tmp_path / "b")
    (tmp_path / "b" / LINEAR_FILE).write_text('{"blend_weight": 1.5, "linear": null}')
    manifest = json.loads((tmp_path / "b" / MANIFEST_FILE).read_text())
    data = (tmp_path / "b" / LINEAR_FILE).read_bytes()
    manifest[LINEAR_FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (tmp_path / "b" / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"blend_weight 1\.5 outside"):
        ChurnModel.load(tmp_path / "b")
