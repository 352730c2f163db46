"""Route tests: answers equal the batch scorer's, errors are stable JSON, limits hold."""

from __future__ import annotations

import threading
import time
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from bundle.model import ChurnModel
from features.catalog import CATALOG_VERSION
from serving.app import create_app
from serving.routes.deps import get_service
from serving.schemas import BatchResponse, CustomerChurn, ModelInfo
from serving.service import Loaded
from tests.serving.conftest import CLIENT_KEY, PARAMS, SyntheticBackend, make_settings, snapshot

CHURN = "/v1/customers/{}/churn"


def batch_scores(backend: SyntheticBackend) -> pd.DataFrame:
    """What the batch ``score`` stage computes for the same model and snapshot."""
    loaded = backend.load()
    return loaded.scorer.score_batch(backend.snap, loaded.default_top_k)


def risky_customer(scores: pd.DataFrame, min_reasons: int = 2) -> str:
    """A customer with at least ``min_reasons`` reasons (so slicing is visible)."""
    n = scores["reasons"].map(len)
    return str(scores.loc[n >= min_reasons, "customer_id"].iloc[0])


def test_get_matches_batch_score_exactly(client: TestClient, backend: SyntheticBackend) -> None:
    scores = batch_scores(backend).set_index("customer_id")
    for cid in scores.index[:40]:
        body = client.get(CHURN.format(cid)).json()
        CustomerChurn.model_validate(body)
        row = scores.loc[cid]
        assert body["churn_probability"] == round(row["churn_probability"], 4)
        assert [r["code"] for r in body["reasons"]] == [r["code"] for r in row["reasons"]]
        assert [r["text"] for r in body["reasons"]] == [r["text_en"] for r in row["reasons"]]
        assert [r["impact"] for r in body["reasons"]] == [
            round(r["impact"], 4) for r in row["reasons"]
        ]
        assert [r["code"] for r in body["triggered_rules"]] == [
            r["code"] for r in row["triggered_rules"]
        ]
        assert body["risk_level"] == row["risk_level"]
        assert body["value_tier"] == row["value_tier"]
        assert body["as_of"] == "2011-12-09"
        assert body["model_version"] == "test-1"


def test_lang_and_top_k(client: TestClient, backend: SyntheticBackend) -> None:
    scores = batch_scores(backend)
    cid = risky_customer(scores)
    row = scores.set_index("customer_id").loc[cid]
    zh = client.get(CHURN.format(cid), params={"lang": "zh-CN"}).json()
    assert [r["text"] for r in zh["reasons"]] == [r["text_zh"] for r in row["reasons"]]
    one = client.get(CHURN.format(cid), params={"top_k": 1}).json()
    assert [r["code"] for r in one["reasons"]] == [row["reasons"][0]["code"]]
    assert (
        zh["risk_level_label"]
        == {"low": "低风险", "medium": "中风险", "high": "高风险"}[zh["risk_level"]]
    )
    assert zh["value_tier_label"] in ("低价值", "中价值", "高价值")
    assert all(r["name"] and r["feature_label"].isascii() is False for r in zh["reasons"])
    none = client.get(CHURN.format(cid), params={"top_k": 0}).json()
    assert none["reasons"] == []
    assert none["churn_probability"] == one["churn_probability"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lang": "fr"}, "lang"),
        ({"top_k": 99}, "top_k"),
        ({"top_k": "x"}, "top_k"),
        ({"top_k": "²"}, "top_k"),
        ({"top_k": "-1"}, "top_k"),
    ],
)
def test_bad_query_is_422_naming_the_field(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    r = client.get(CHURN.format("C0000001"), params=params)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    assert r.json()["error"]["details"][0]["loc"] == ["query", field]


def test_unknown_customer_is_404(client: TestClient) -> None:
    r = client.get(CHURN.format("no-such-customer"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "customer_not_found"


def test_batch_reports_not_found_and_matches_single(client: TestClient) -> None:
    ids = ["C0000003", "missing-1", "C0000004", "missing-2"]
    r = client.post("/v1/churn/batch", json={"customer_ids": ids, "lang": "zh-CN"})
    assert r.status_code == 200
    body = BatchResponse.model_validate(r.json())
    assert [c.customer_id for c in body.results] == ["C0000003", "C0000004"]
    assert body.not_found == ["missing-1", "missing-2"]
    single = client.get(CHURN.format("C0000004"), params={"lang": "zh-CN"}).json()
    assert r.json()["results"][1] == single


def test_batch_limit_is_413(client: TestClient) -> None:
    ids = [f"C{i:07d}" for i in range(51)]  # test settings: max_batch_size = 50
    r = client.post("/v1/churn/batch", json={"customer_ids": ids})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "batch_too_large"
    assert client.post("/v1/churn/batch", json={"customer_ids": ids[:50]}).status_code == 200


def test_body_limit_is_413(backend: SyntheticBackend) -> None:
    app = create_app(make_settings(max_body_bytes=200), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        r = c.post("/v1/churn/batch", json={"customer_ids": ["x" * 50] * 10})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"


def test_batch_rejects_unknown_fields(client: TestClient) -> None:
    r = client.post("/v1/churn/batch", json={"customer_ids": [], "oops": 1})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "oops"]


def test_model_info(client: TestClient, model_a: ChurnModel) -> None:
    r = client.get("/v1/model")
    info = ModelInfo.model_validate(r.json())
    assert info.version == "test-1"
    assert info.feature_names == list(model_a.feature_names)
    assert info.catalog_version == model_a.catalog_version
    assert info.reason_catalog_version and info.rules_version
    assert info.customers == 300
    assert info.snapshot_as_of == "2011-12-09"


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["model_loaded"] is True and ready["customers"] == 300


def test_503_while_no_model(backend: SyntheticBackend) -> None:
    app = create_app(make_settings(startup_load="off"), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503
        for r in (
            c.get(CHURN.format("C0000001")),
            c.post("/v1/churn/batch", json={"customer_ids": ["C0000001"]}),
            c.get("/v1/model"),
        ):
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "model_not_loaded"


def test_failed_load_is_503_with_reason(backend: SyntheticBackend) -> None:
    backend.fail_next = True
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        r = c.get(CHURN.format("C0000001"))
        assert r.status_code == 503
        assert "model store unreachable" in r.json()["error"]["message"]
        ready = c.get("/readyz").json()
        assert ready["status"] == "failed" and "model store unreachable" in ready["detail"]


class _Exploding:
    def batch(self, *args: Any) -> Any:
        raise RuntimeError("secret internal detail")


def test_unexpected_error_is_500_without_trace(backend: SyntheticBackend) -> None:
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    app.dependency_overrides[get_service] = _Exploding
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}, raise_server_exceptions=False) as c:
        r = c.post("/v1/churn/batch", json={"customer_ids": ["C0000001"]})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "internal server error"}}


def test_metrics_per_route_model_and_predictions(client: TestClient) -> None:
    client.get(CHURN.format("C0000001"))
    client.get(CHURN.format("nobody"))
    text = client.get("/metrics").text
    route = 'route="/v1/customers/{customer_id}/churn"'
    assert f'churn_http_requests_total{{method="GET",{route},status="200"}} 1.0' in text
    assert f'churn_http_requests_total{{method="GET",{route},status="404"}} 1.0' in text
    assert f'churn_http_request_duration_seconds_count{{method="GET",{route}}} 2.0' in text
    assert f'churn_model_info{{alias="champion",catalog_version="{CATALOG_VERSION}"' in text
    assert "churn_prediction_probability_count 1.0" in text
    assert "churn_model_loaded 1.0" in text


def test_two_apps_have_separate_registries(backend: SyntheticBackend) -> None:
    apps = [create_app(make_settings(), backend_factory=lambda _: backend) for _ in range(2)]
    with TestClient(apps[0], headers={"X-API-Key": CLIENT_KEY}) as a, TestClient(apps[1]) as b:
        a.get(CHURN.format("C0000001"))
        assert "churn_prediction_probability_count 1.0" in a.get("/metrics").text
        assert "churn_prediction_probability_count 0.0" in b.get("/metrics").text


def test_probability_is_the_models(client: TestClient, model_a: ChurnModel) -> None:
    frame = snapshot().iloc[:5]
    expected = model_a.predict_proba(frame)
    got = [client.get(CHURN.format(c)).json()["churn_probability"] for c in frame.customer_id]
    np.testing.assert_array_equal(got, np.round(expected, 4))  # 4 decimals in the API


class _SlowBackend:
    """Blocks the first load until released (a long model download, say)."""

    def __init__(self, inner: SyntheticBackend) -> None:
        self.inner = inner
        self.release = threading.Event()

    def load(self) -> Loaded:
        self.release.wait(timeout=30)
        return self.inner.load()


def test_background_load_keeps_liveness(backend: SyntheticBackend) -> None:
    slow = _SlowBackend(backend)
    app = create_app(make_settings(startup_load="background"), backend_factory=lambda _: slow)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").json()["status"] == "loading"
        assert c.get(CHURN.format("C0000001")).status_code == 503
        slow.release.set()
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get(CHURN.format("C0000001")).status_code == 200


def test_hot_path_runs_no_model(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET and batch answer from the precomputed state: no predict, no TreeSHAP."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model was called on the hot path")

    monkeypatch.setattr(lgb.Booster, "predict", refuse)
    assert client.get(CHURN.format("C0000001")).status_code == 200
    assert client.get(CHURN.format("C0000001"), params={"top_k": 5}).status_code == 200
    r = client.post("/v1/churn/batch", json={"customer_ids": ["C0000001", "C0000002"]})
    assert r.status_code == 200


def test_model_route_reports_a_params_bundle_mismatch(model_a, tmp_path) -> None:
    """A params.yaml whose horizon differs from the served bundle's is reported, not mixed."""
    import yaml

    from config.root import load_params
    from serving.backend import PipelineParams

    raw = yaml.safe_load(PARAMS.read_text())
    raw["features"]["horizon_days"] = model_a.horizon_days + 30
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    params = PipelineParams.for_model(load_params(path), model_a)
    assert params.score.horizon_days == model_a.horizon_days
    assert params.features.horizon_days == model_a.horizon_days
    assert any("horizon_days" in m for m in params.mismatch)
