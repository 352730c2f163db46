"""POST /v1/churn/score: raw orders -> ingest checks -> build_online -> batch scorer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from benchmarks.bench_serving import raw_orders
from features.online import build_online
from features.reason_codes import MAX_REASONS
from ingest.records import validate_records_sql
from serving.records import full_record, public_body
from serving.schemas import CustomerChurn
from tests.serving.conftest import SyntheticBackend

SCORE = "/v1/churn/score"


def orders(n: int = 12) -> list[dict[str, Any]]:
    """A customer who bought monthly, then went quiet, with one return."""
    start = pd.Timestamp("2010-12-15 10:00")
    out = [
        {"order_id": f"o{i}", "order_ts": (start + pd.Timedelta(days=30 * i)).isoformat(),
         "amount": 80.0 + 5 * i, "status": "completed", "product_id": f"P{i % 4}"}
        for i in range(n)
    ]  # fmt: skip
    out.append({"order_id": "r1", "order_ts": "2011-08-01T09:00:00", "amount": -40.0,
                "status": "returned", "product_id": "P1"})  # fmt: skip
    return out


def test_score_equals_batch_scorer_on_online_features(
    client: TestClient, backend: SyntheticBackend
) -> None:
    r = client.post(SCORE, json={"customer_id": "new-1", "orders": orders(), "top_k": 3})
    assert r.status_code == 200, r.text
    body = CustomerChurn.model_validate(r.json())
    loaded = backend.load()
    frame = pd.DataFrame([{**o, "customer_id": "new-1"} for o in orders()])
    frame["order_ts"] = pd.to_datetime(frame["order_ts"]).astype("datetime64[us]")
    features = build_online(
        frame, pd.Timestamp("2011-12-09"), loaded.scorer.params.features,  # type: ignore[attr-defined]
        columns=loaded.scorer.order_columns,  # type: ignore[attr-defined]
    )  # fmt: skip
    expected = loaded.scorer.score_batch(features, 3).iloc[0]
    assert body.churn_probability == round(expected["churn_probability"], 4)
    assert [x.code for x in body.reasons] == [x["code"] for x in expected["reasons"]]
    assert body.as_of == "2011-12-09"  # default: the snapshot's cutoff


@pytest.mark.parametrize(
    ("orders_of", "lang", "top_k"),
    [(orders, "en", None), (lambda: raw_orders(200, 5), "en", None),
     (lambda: raw_orders(200, 6), "zh-CN", 2)],
)  # fmt: skip
def test_score_bytes_equal_the_batch_path(
    client: TestClient,
    backend: SyntheticBackend,
    orders_of: Any,
    lang: str,
    top_k: int | None,
) -> None:
    """The answer is byte for byte the batch path's: the orders through the batch SQL
    checks, the batch scorer on their features, the same JSON rendering (the benchmark's
    200-order body included)."""
    posted = orders_of()
    body = {"customer_id": "new-7", "orders": posted, "lang": lang, "top_k": top_k}
    response = client.post(SCORE, json=body)
    assert response.status_code == 200, response.text
    scorer: Any = backend.load().scorer
    checked = validate_records_sql(
        [{**o, "customer_id": "new-7"} for o in posted], scorer.params.data
    )
    assert not checked.errors
    features = build_online(
        checked.frame, pd.Timestamp("2011-12-09"), scorer.params.features,
        columns=scorer.order_columns,
    )  # fmt: skip
    row = scorer.score_batch(features, MAX_REASONS).to_dict("records")[0]
    default_top_k = backend.load().default_top_k
    expected = public_body(full_record(row), lang, default_top_k if top_k is None else top_k)
    assert response.content == expected.body


def test_orders_after_as_of_do_not_count(client: TestClient) -> None:
    base = client.post(SCORE, json={"customer_id": "n2", "orders": orders(),
                                    "as_of": "2011-10-01T00:00:00"}).json()  # fmt: skip
    later = [*orders(), {"order_id": "late", "order_ts": "2011-11-01T00:00:00", "amount": 9e4}]
    again = client.post(SCORE, json={"customer_id": "n2", "orders": later,
                                     "as_of": "2011-10-01T00:00:00"}).json()  # fmt: skip
    assert again == base
    assert base["as_of"] == "2011-10-01"


def test_invalid_orders_name_index_and_field(client: TestClient) -> None:
    bad = orders(3)
    bad[1]["order_ts"] = "yesterday"
    bad[2]["amount"] = "lots"
    r = client.post(SCORE, json={"customer_id": "n3", "orders": bad})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_orders"
    assert [(d["index"], d["field"]) for d in error["details"]] == [(1, "order_ts"), (2, "amount")]


def test_other_customers_orders_are_rejected(client: TestClient) -> None:
    mixed = orders(3)
    mixed[2]["customer_id"] = "someone-else"
    r = client.post(SCORE, json={"customer_id": "n4", "orders": mixed})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0] == {
        "index": 2, "field": "customer_id", "message": r.json()["error"]["details"][0]["message"]
    }  # fmt: skip


def test_no_completed_order_before_as_of_is_422(client: TestClient) -> None:
    r = client.post(SCORE, json={"customer_id": "n5", "orders": orders(2),
                                 "as_of": "2010-01-01T00:00:00"})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_orders"


def test_too_many_orders_is_413(backend: SyntheticBackend) -> None:
    from serving.app import create_app
    from tests.serving.conftest import CLIENT_KEY, make_settings

    app = create_app(make_settings(max_orders=5), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        r = c.post(SCORE, json={"customer_id": "n6", "orders": orders(6)})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "batch_too_large"


def test_lang_query_parameter_on_post_routes(client: TestClient) -> None:
    body = {"customer_id": "new-1", "orders": orders(), "top_k": 3}
    zh = client.post(SCORE + "?lang=zh-CN", json=body).json()
    en = client.post(SCORE, json=body).json()
    assert zh["risk_level_label"].endswith("风险") and en["risk_level_label"].endswith("risk")
    assert all(not r["text"].isascii() for r in zh["reasons"])
    # the query wins over the body
    assert client.post(SCORE + "?lang=en", json={**body, "lang": "zh-CN"}).json() == en
    ids = {"customer_ids": ["C0000001", "C0000002"]}
    batch = client.post("/v1/churn/batch?lang=zh-CN", json=ids).json()
    assert all(r["risk_level_label"].endswith("风险") for r in batch["results"])
    assert client.post("/v1/churn/batch?lang=fr", json=ids).status_code == 422


def documented_score_body() -> dict[str, Any]:
    """The JSON body of the ``POST /v1/churn/score`` curl example in docs/serving.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "serving.md").read_text("utf-8")
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if SCORE in b]
    assert len(blocks) == 1
    body = re.search(r"-d '(.*?)'", blocks[0], re.S)
    assert body is not None
    parsed: dict[str, Any] = json.loads(body.group(1))
    return parsed


def test_the_documented_example_body_is_scored(client: TestClient) -> None:
    """Optional order fields are optional per order: one order's quantity is not required
    on the others (the documented example used to answer 422)."""
    body = documented_score_body()
    given = [set(o) for o in body["orders"]]
    assert any("quantity" in g for g in given) and any("quantity" not in g for g in given)
    response = client.post(SCORE, json=body)
    assert response.status_code == 200, response.text
    answer = CustomerChurn.model_validate(response.json())
    assert answer.customer_id == body["customer_id"]
