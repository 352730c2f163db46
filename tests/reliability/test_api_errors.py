"""Error answers match the documented table; keys never reach the access log.

Before: invalid JSON answered ``422 validation_error`` (documented: ``400
bad_request``), a chunked body over the limit answered ``400`` (documented: ``413
body_too_large``), and ``?api_key=...`` was written to the access log verbatim.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.accesslog import ACCESS_LOGGER, RedactQueryFilter, redact_path
from serving.app import create_app
from tests.serving.conftest import CLIENT_KEY, SyntheticBackend, make_settings, train_model
from tests.serving.conftest import snapshot as make_snapshot

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    backend = SyntheticBackend(train_model(seed=1), make_snapshot(n=20))
    app = create_app(make_settings(max_body_bytes=1000), backend_factory=lambda _: backend)
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/churn/batch", "/v1/churn/score"])
def test_invalid_json_is_400_bad_request(client: TestClient, path: str) -> None:
    response = client.post(path, content="{not json", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    chunks = (b'{"customer_ids": [' + b'"x",' * 300 + b'"y"]}' for _ in range(1))
    response = client.post("/v1/churn/batch", content=chunks, headers=JSON)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/model?api_key=s3cret", "/v1/model?api_key=***"),
        ("/v1/x?lang=en&X-API-Key=s3cret&top_k=2", "/v1/x?lang=en&X-API-Key=***&top_k=2"),
        ("/v1/x?token=a%20b&access_token=zz", "/v1/x?token=***&access_token=***"),
        ("/v1/x?lang=zh-CN&top_k=3", "/v1/x?lang=zh-CN&top_k=3"),
        ("/readyz", "/readyz"),
    ],
)
def test_credential_query_values_are_redacted(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def test_the_access_log_record_is_redacted(client: TestClient) -> None:
    record = logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/model?api_key=s3cret", "1.1", 401), None,
    )  # fmt: skip
    assert RedactQueryFilter().filter(record)
    assert "s3cret" not in record.getMessage() and "api_key=***" in record.getMessage()
    assert any(isinstance(f, RedactQueryFilter) for f in logging.getLogger(ACCESS_LOGGER).filters)
