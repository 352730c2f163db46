"""The OpenAPI schema documents typed order lines with examples; /docs and /redoc are
served from shipped assets and load nothing from outside the server."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from serving.schemas import DOC_SCORE_EXAMPLE, ScoreRequest
from tests.serving.test_score import documented_score_body


def _schema(client: TestClient, name: str) -> dict[str, Any]:
    schemas: dict[str, Any] = client.get("/openapi.json").json()["components"]["schemas"]
    found = [v for k, v in schemas.items() if k == name or k.startswith(f"{name}-")]
    assert found, f"{name} not in {sorted(schemas)}"
    return found[0]


def test_order_lines_are_typed_and_every_field_is_described(client: TestClient) -> None:
    request = _schema(client, "ScoreRequest")
    assert request["properties"]["orders"]["items"]["$ref"].endswith("/OrderLine")
    order = _schema(client, "OrderLine")
    assert order["required"] == ["order_ts"]
    expected = {"order_ts", "amount", "quantity", "unit_price", "status", "order_id",
                "product_id", "category", "customer_id"}  # fmt: skip
    assert set(order["properties"]) == expected
    assert all(p.get("description") for p in order["properties"].values())
    assert order["examples"]


def test_requests_and_responses_carry_examples(client: TestClient) -> None:
    for name in ("ScoreRequest", "BatchRequest", "CustomerChurn"):
        assert _schema(client, name)["examples"], name
    # the schema's score example is the documented one, and it is a valid request
    assert documented_score_body() == DOC_SCORE_EXAMPLE
    ScoreRequest.model_validate(DOC_SCORE_EXAMPLE)


def test_unknown_order_fields_are_still_invalid_orders(client: TestClient) -> None:
    body = documented_score_body()
    body["orders"][1]["colour"] = "red"
    r = client.post("/v1/churn/score", json=body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_orders"
    assert error["details"][0]["index"] == 1 and error["details"][0]["field"] == "colour"


def test_docs_pages_load_nothing_from_outside_the_server(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200
        html = r.text
        assert not re.findall(r"https?://", html), f"{page} references an external URL"
        assets = re.findall(r"""(?:src|href)\s*=\s*["'](/[^"']+)["']""", html)
        assets += re.findall(r"""url:\s*['"](/[^'"]+)['"]""", html)
        assert any(a.endswith(".js") for a in assets), html
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
