"""Schemathesis against the app's own OpenAPI schema: no 5xx, responses match the schema.

The schema is the app's ``/openapi.json``; requests go through a ``TestClient`` that this
module owns (so the app's lifespan and worker threads shut down cleanly), and every
response is validated by schemathesis' checks. Examples per operation are bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.openapi import from_dict

from serving.app import create_app
from tests.hypothesis_profiles import examples
from tests.serving.conftest import CLIENT_KEY, SyntheticBackend, make_settings, train_model
from tests.serving.conftest import snapshot as make_snapshot

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
KNOWN_IDS = [f"C{i:07d}" for i in range(0, 100, 9)]


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[TestClient]:
    backend = SyntheticBackend(train_model(seed=1), make_snapshot(n=100))
    app = create_app(make_settings(max_batch_size=20, max_orders=20),
                     backend_factory=lambda _: backend)  # fmt: skip
    with TestClient(app, headers={"X-API-Key": CLIENT_KEY}) as client:
        yield client


def test_api_conforms_to_its_schema(fuzz_client: TestClient) -> None:
    """Every operation, valid and invalid requests (bounded): all checks must pass."""
    api_schema = from_dict(fuzz_client.get("/openapi.json").json())
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 8
    calls: dict[str, int] = {}

    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):
        inputs = len(operation.path_parameters) + len(operation.query) + len(operation.body)
        if mode is schemathesis.GenerationMode.NEGATIVE and not inputs:
            continue  # no parameters, no body: there is no invalid request to make
        cases = operation.as_strategy(generation_mode=mode)

        @given(case=cases, known=st.sampled_from([None, *KNOWN_IDS]))
        @settings(max_examples=examples(25), suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case, known: str | None) -> None:
            if known is not None and case.path_parameters and "customer_id" in case.path_parameters:
                case.path_parameters["customer_id"] = known  # reach real answers too
            kwargs = case.as_transport_kwargs(
                base_url="http://testserver", headers={"X-API-Key": CLIENT_KEY}
            )
            response = fuzz_client.request(**kwargs)
            case.validate_response(response, checks=CHECKS)
            key = f"{case.operation.label} {response.status_code}"
            calls[key] = calls.get(key, 0) + 1

        run()
    # generated requests reached real answers, not only the error paths
    for expected in ("GET /v1/customers/{customer_id}/churn 200", "POST /v1/churn/batch 200"):
        assert calls.get(expected), calls
