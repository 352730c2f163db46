"""POST /v1/churn/score never answers 5xx on input (issue 11, item 3).

Hypothesis walks the request body space (extreme and non-finite numbers, far dates,
time zones, unicode, wrong types, unknown keys) through the real pipeline scorer
(ingest validation -> online features -> LightGBM -> reasons). Derandomised, so CI
runs the same bodies every time. The same bodies over one keep-alive connection to a
real uvicorn are in ``test_served_bundle.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.app import create_app
from tests.serving.conftest import CLIENT_KEY, SyntheticBackend, make_settings, train_model
from tests.serving.conftest import snapshot as make_snapshot

FIELDS = ("order_ts", "amount", "quantity", "unit_price", "order_id", "product_id", "status")
#: Bodies that answered 500 (or were scored) before the plausibility rules.
HOSTILE: dict[str, dict[str, Any]] = {
    "amount 1e308": {"orders": [{"order_ts": "2011-05-01", "amount": 1e308}]},
    "year 1": {"orders": [{"order_ts": "0001-01-01", "amount": 5.0}]},
    "year 9999": {"orders": [{"order_ts": "9999-12-31T23:59:59", "amount": 5.0}]},
    "negative 1e308": {"orders": [{"order_ts": "2011-05-01", "amount": -1e308}]},
    "quantity overflow": {
        "orders": [{"order_ts": "2011-05-01", "quantity": 1e308, "unit_price": 1e10}]
    },
}

_numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 1e9, 1e9 + 1]),
    st.integers(min_value=-(10**30), max_value=10**30),
)
_dates = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31),
    timezones=st.one_of(st.none(), st.just(UTC), st.just(timezone(timedelta(hours=14)))),
).map(lambda d: d.isoformat())
_values = st.one_of(
    _numbers,
    _dates,
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
_order = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=5)),
    _values,
    max_size=6,
).map(lambda d: {"order_ts": "2011-05-01", "amount": 10.0} | d)
_body = st.fixed_dictionaries(
    {"customer_id": st.text(min_size=1, max_size=20), "orders": st.lists(_order, max_size=4)},
    optional={
        "as_of": st.one_of(_dates, st.text(max_size=8), st.none()),
        "lang": st.sampled_from(["en", "zh-CN", "xx"]),
        "top_k": st.integers(min_value=-2, max_value=12),
    },
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    backend = SyntheticBackend(train_model(seed=1), make_snapshot(n=100))
    app = create_app(make_settings(max_orders=20), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}, raise_server_exceptions=False) as c:
        yield c


def _post(client: TestClient, body: dict[str, Any]) -> Any:
    # allow_nan=False never matters (no NaN is generated); ensure_ascii keeps lone
    # surrogates sendable
    return client.post(
        "/v1/churn/score", content=json.dumps(body), headers={"content-type": "application/json"}
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_get_422_naming_order_and_field(client: TestClient, name: str) -> None:
    response = _post(client, {"customer_id": "N1", **HOSTILE[name]})
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["index"] == 0
    assert detail["field"] in ("amount", "order_ts", "quantity")
    assert detail["message"] in ("implausible_amount", "implausible_timestamp", "bad_number")


@given(body=_body)
@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_no_body_gets_a_server_error(client: TestClient, body: dict[str, Any]) -> None:
    response = _post(client, body)
    assert response.status_code in (200, 400, 413, 422), (response.status_code, body, response.text)
    if response.status_code == 200:
        answer = response.json()
        assert 0.0 <= answer["churn_probability"] <= 1.0
