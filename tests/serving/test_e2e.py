"""End to end: a real uvicorn server on a free loopback port, over HTTP, against the
model the pipeline trained on the bundled data (``pipeline_run``: ``dvc repro`` in a
temporary copy of the repository, shared with the other stage-level tests).

Answers must equal the batch scores file the same run wrote (same model version):
probability to 1e-9, the same reason codes in the same order, the same sentences.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from scoring.results import read_scores
from serving.backend import PipelineBackend
from serving.settings import Settings
from tests.servers import uvicorn_app

KEY, ADMIN = "e2e-client-key", "e2e-admin-key"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pipeline_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``uvicorn serving.app:create_app --factory`` serving the pipeline's bundle."""
    repo = pipeline_run
    env = {"CHURN_MODEL_DIR": str(repo / "models/churn"),
           "CHURN_SNAPSHOT_PATH": str(repo / "data/processed/latest.parquet"),
           "CHURN_PARAMS_PATH": str(repo / "params.yaml"), "CHURN_API_KEYS": KEY,
           "CHURN_ADMIN_KEY": ADMIN}  # fmt: skip
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with uvicorn_app(repo, env, log) as (base, _):
        yield base
    # a clean shutdown, also after online scoring used DuckDB threads (uvicorn re-raises
    # the SIGTERM it handled, so -15 is a graceful exit; an abort would be -6)
    text = log.read_text()
    assert "Application shutdown complete" in text and "terminate called" not in text


@pytest.fixture(scope="module")
def batch(pipeline_run: Path) -> pd.DataFrame:
    return read_scores(str(pipeline_run / "data/scores/latest.parquet")).set_index("customer_id")


def _get(base: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, headers={"X-API-Key": KEY}, timeout=30)


def test_get_equals_batch_scores(server: str, batch: pd.DataFrame) -> None:
    with_reasons = batch[batch["reasons"].map(len) > 0].index[:15].tolist()
    sample = with_reasons + batch.index[::400].tolist()
    assert with_reasons, "the bundled data must yield customers with reasons"
    for cid in sample:
        row = batch.loc[cid]
        for lang, field in (("en", "text_en"), ("zh-CN", "text_zh")):
            body = _get(server, f"/v1/customers/{cid}/churn", lang=lang).json()
            assert body["churn_probability"] == round(row["churn_probability"], 4)
            assert [r["code"] for r in body["reasons"]] == [r["code"] for r in row["reasons"]]
            assert [r["text"] for r in body["reasons"]] == [r[field] for r in row["reasons"]]
            assert [r["code"] for r in body["triggered_rules"]] == [
                r["code"] for r in row["triggered_rules"]
            ]
            assert body["model_version"] == row["model_version"]
            assert body["risk_level"] == row["risk_level"]


def test_batch_and_model_over_http(server: str, batch: pd.DataFrame) -> None:
    ids = [*batch.index[:40].tolist(), "not-a-customer"]
    r = httpx.post(f"{server}/v1/churn/batch", json={"customer_ids": ids},
                   headers={"X-API-Key": KEY}, timeout=30)  # fmt: skip
    assert r.status_code == 200
    assert len(r.json()["results"]) == 40 and r.json()["not_found"] == ["not-a-customer"]
    info = _get(server, "/v1/model").json()
    assert info["customers"] == len(batch)
    assert info["version"] == str(batch["model_version"].iloc[0]) or info["version"] is None
    assert info["feature_names"] and info["reason_catalog_version"]


def test_score_from_raw_orders_equals_batch_row(
    server: str, batch: pd.DataFrame, pipeline_run: Path
) -> None:
    """A customer's canonical orders, posted raw, give that customer's batch answer."""
    orders = pd.read_parquet(pipeline_run / "data/interim/orders.parquet")
    cid = str(batch.index[len(batch) // 3])
    mine = orders[orders["customer_id"] == cid].drop(columns=["customer_id"])
    records = [
        {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in rec.items()
         if not (isinstance(v, float) and pd.isna(v))}
        for rec in mine.to_dict("records")
    ]  # fmt: skip
    r = httpx.post(f"{server}/v1/churn/score", json={"customer_id": cid, "orders": records},
                   headers={"X-API-Key": KEY}, timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    row = batch.loc[cid]
    assert r.json()["churn_probability"] == round(row["churn_probability"], 4)
    assert [x["code"] for x in r.json()["reasons"]] == [x["code"] for x in row["reasons"]]


def test_keys_enforced_over_http(server: str) -> None:
    assert httpx.get(f"{server}/v1/model", timeout=30).status_code == 401
    assert _get(server, "/healthz").status_code == 200
    metrics = httpx.get(f"{server}/metrics", timeout=30).text
    assert "churn_http_requests_total" in metrics and "churn_model_info" in metrics


def test_registry_model_loads(pipeline_run: Path) -> None:
    """The MLflow path: every registered version has alias ``candidate``."""
    settings = Settings(
        model_uri="models:/churn-lgbm@candidate",
        mlflow_tracking_uri=f"sqlite:///{pipeline_run / 'mlflow.db'}",
        snapshot_path=pipeline_run / "data/processed/latest.parquet",
        params_path=pipeline_run / "params.yaml",
    )
    loaded = PipelineBackend(settings).load()
    assert loaded.info["alias"] == "candidate"
    assert loaded.info["version"] is not None
    assert loaded.info["metrics"]["run"], "run metrics (model and baselines) come along"
