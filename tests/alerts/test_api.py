"""/v1/alerts, /v1/outcomes and /v1/alerts/performance on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from alerts.store import open_store
from alerts.worklist import build_worklist
from config.alerts import AlertsParams
from serving.app import create_app
from tests.alerts.helpers import scores_frame
from tests.serving.conftest import (
    CLIENT_KEY,
    SyntheticBackend,
    make_settings,
    snapshot,
    train_model,
)


@pytest.fixture(scope="module")
def backend() -> SyntheticBackend:
    return SyntheticBackend(train_model(seed=1, n=500, rounds=5), snapshot(n=50))


@pytest.fixture
def seeded(db_url: str) -> pd.DataFrame:
    store = open_store(db_url)
    wl = build_worklist(
        scores_frame(30, owners=["ann", "bob"]),
        store.history(),
        AlertsParams(capacity_per_cycle=12, control_share=0.2),
        seed=4,
    )
    store.save_worklist(wl.alerts)
    store.engine.dispose()
    return wl.alerts


@pytest.fixture
def api(db_url: str, tmp_path: Path, backend: SyntheticBackend) -> Iterator[TestClient]:
    orders = pd.DataFrame(
        {
            "customer_id": ["c000", "c001"],
            "status": "completed",
            "order_ts": pd.to_datetime(["2011-12-20", "2012-04-01"]),
        }
    )
    orders.to_parquet(tmp_path / "orders.parquet")
    settings = make_settings(db_url=db_url, orders_path=tmp_path / "orders.parquet")
    with TestClient(
        create_app(settings, backend_factory=lambda _: backend), headers={"X-API-Key": CLIENT_KEY}
    ) as client:
        yield client


def test_open_alerts_paged_and_by_owner(api: TestClient, seeded: pd.DataFrame) -> None:
    treated = seeded[seeded["group"] == "treatment"]
    page = api.get("/v1/alerts", params={"status": "open", "limit": 5}).json()
    assert page["total"] == len(treated) and len(page["alerts"]) == 5
    assert [a["alert_id"] for a in page["alerts"]] == treated["alert_id"].tolist()[:5]
    first = page["alerts"][0]
    assert first["reason_codes"] == ["ORDER_CYCLE_OVERDUE", "RECENCY_INACTIVE"]
    assert first["action_zh"] == "致电了解补货需求" and first["cycle"] == "2011-12-10"
    ann = api.get("/v1/alerts", params={"owner": "ann", "limit": 500}).json()
    assert ann["total"] == (treated["owner"] == "ann").sum()
    assert {a["owner"] for a in ann["alerts"]} == {"ann"}
    control = set(seeded.loc[seeded["group"] == "control", "alert_id"])
    everything = api.get("/v1/alerts", params={"limit": 500}).json()["alerts"]
    assert control and not control & {a["alert_id"] for a in everything}


def test_alerts_need_the_api_key(api: TestClient, seeded: pd.DataFrame) -> None:
    assert api.get("/v1/alerts", headers={"X-API-Key": ""}).status_code == 401
    assert api.get("/v1/alerts", headers={"X-API-Key": "wrong"}).status_code == 403
    assert api.post("/v1/outcomes", json={}, headers={"X-API-Key": "wrong"}).status_code == 403


def test_outcome_is_recorded_once_and_closes_the_alert(
    api: TestClient, seeded: pd.DataFrame
) -> None:
    aid = seeded.loc[seeded["group"] == "treatment", "alert_id"].iloc[0]
    body = {
        "alert_id": aid,
        "action": "called",
        "contacted_at": "2011-12-12T10:00:00+08:00",
        "result": "retained",
        "note": "replenishment order promised",
    }
    first = api.post("/v1/outcomes", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["contacted_at"] == "2011-12-12T02:00:00Z"
    again = api.post("/v1/outcomes", json=body)
    assert again.status_code == 200 and again.json()["outcome_id"] == first.json()["outcome_id"]
    closed = api.get("/v1/alerts", params={"status": "closed"}).json()
    assert [a["alert_id"] for a in closed["alerts"]] == [aid]


def test_outcome_by_customer_id(api: TestClient, seeded: pd.DataFrame) -> None:
    row = seeded[seeded["group"] == "treatment"].iloc[1]
    answer = api.post(
        "/v1/outcomes",
        json={
            "customer_id": row["customer_id"],
            "action": "visit",
            "contacted_at": "2011-12-13T09:00:00Z",
            "result": "no_answer",
        },
    )
    assert answer.status_code == 201 and answer.json()["alert_id"] == row["alert_id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"result": "happy"}, "result"),
        ({"contacted_at": "yesterday"}, "contacted_at"),
        ({"action": ""}, "action"),
        ({"alert_id": None}, "alert_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_outcome_is_422_naming_the_field(
    api: TestClient, seeded: pd.DataFrame, change: dict[str, object], field: str
) -> None:
    body = {
        "alert_id": seeded["alert_id"].iloc[0],
        "action": "called",
        "contacted_at": "2011-12-12T10:00:00Z",
        "result": "lost",
        **change,
    }
    answer = api.post("/v1/outcomes", json={k: v for k, v in body.items() if v is not None})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert any(d["loc"][-1] == field for d in error["details"]), error


def test_unknown_alert_is_404(api: TestClient, seeded: pd.DataFrame) -> None:
    answer = api.post(
        "/v1/outcomes",
        json={
            "alert_id": "nope",
            "action": "called",
            "contacted_at": "2011-12-12T10:00:00Z",
            "result": "lost",
        },
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "alert_not_found"


def test_performance_answers_in_its_schema(api: TestClient, seeded: pd.DataFrame) -> None:
    answer = api.get("/v1/alerts/performance")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data_end"] == "2012-04-01"
    assert body["measured_alerts"] == len(seeded)  # due 2012-03-09 <= data end
    assert body["overall"]["treatment"] + body["overall"]["control"] == len(seeded)
    assert {"reason_family", "action", "owner", "value_tier"} == set(body["by"])
    gauges = api.get("/metrics").text
    assert 'churn_alerts_performance{segment="all",stat="alerts",value="all"}' in gauges
    assert 'segment="reason_family",stat="retention_treatment",value="ORDER_CYCLE"' in gauges
