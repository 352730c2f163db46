"""Churn answers: one customer, a batch of ids, or posted raw orders."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from serving.routes.deps import MetricsDep, OnlinePoolDep, ServiceDep, require_client_key
from serving.routes.raw import RawRoute
from serving.schemas import (
    MAX_ID_LENGTH,
    MAX_TOP_K,
    BatchRequest,
    BatchResponse,
    CustomerChurn,
    ErrorBody,
    Lang,
    ScoreRequest,
)
from serving.security import API_KEY_HEADER
from serving.service import ServiceError
from serving.settings import LANGS

ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (400, 401, 403, 404, 413, 422, 503)
}
fast_router = APIRouter(route_class=RawRoute)
router = APIRouter(prefix="/v1", dependencies=[Depends(require_client_key)], responses=ERRORS)
JSON = "application/json"
_NO_QUERY: Mapping[str, str] = {}


# The hot route reads its three inputs straight from the request instead of through
# FastAPI's parameter and dependency machinery (see serving.routes.raw: that machinery
# costs more than the answer, a dictionary lookup of precomputed bytes). The parameters
# and the API-key requirement are declared in ``openapi_extra``, and the manual checks
# below enforce exactly that schema (the schemathesis test holds them to it).
_CHURN_OPENAPI: dict[str, Any] = {
    "security": [{"ApiKey": []}],
    "parameters": [
        {"name": "customer_id", "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}},
        {"name": "lang", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(LANGS), "default": "en"}},
        {"name": "top_k", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TOP_K},
         "description": "Reasons to return (default: CHURN_DEFAULT_TOP_K)."},
    ],
}  # fmt: skip


@fast_router.get(
    "/v1/customers/{customer_id}/churn",
    response_model=CustomerChurn,
    responses=ERRORS,
    openapi_extra=_CHURN_OPENAPI,
    tags=["churn"],
)
async def customer_churn(request: Request) -> Response:
    """Churn probability, risk, value at risk, reasons and rules for one customer."""
    state = request.app.state
    state.keys.check_client(request.headers.get(API_KEY_HEADER))
    # no query string (the usual call): skip parsing one
    query = request.query_params if request.scope["query_string"] else _NO_QUERY
    customer_id, lang, top_k = churn_query(request.path_params, query)
    answer = state.service.customer(customer_id, lang, top_k)
    state.metrics.observe_prediction(answer.probability, answer.risk_level)
    return Response(answer.body, media_type=JSON)


def churn_query(path: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, str, int | None]:
    """Validate the hot route's inputs against the schema in ``_CHURN_OPENAPI``."""
    customer_id = path["customer_id"]
    if not 0 < len(customer_id) <= MAX_ID_LENGTH:
        raise InvalidParameter(
            f"customer_id must be 1-{MAX_ID_LENGTH} characters", "path", "customer_id"
        )
    lang = query.get("lang", "en")
    if lang not in LANGS:
        raise InvalidParameter(f"lang must be one of {list(LANGS)}", "query", "lang")
    raw = query.get("top_k")
    if raw is None:
        return customer_id, lang, None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_TOP_K:
        raise InvalidParameter(f"top_k must be an integer 0-{MAX_TOP_K}", "query", "top_k")
    return customer_id, lang, int(raw)


class InvalidParameter(ServiceError):
    """422 in the same shape as FastAPI's own validation errors."""

    status, code = 422, "validation_error"

    def __init__(self, message: str, where: str, name: str) -> None:
        super().__init__(message, [{"loc": [where, name], "message": message}])


LangQuery = Annotated[
    Lang | None,
    Query(description="Language of texts and labels; wins over the body's `lang`."),
]


@router.post("/churn/batch", response_model=BatchResponse, tags=["churn"])
async def churn_batch(
    service: ServiceDep, metrics: MetricsDep, request: BatchRequest, lang: LangQuery = None
) -> Response:
    """Answers for many ids at once; unknown ids are listed in ``not_found``."""
    body, answers = service.batch(request.customer_ids, lang or request.lang, request.top_k)
    metrics.observe_predictions((a.probability, a.risk_level) for a in answers)
    return Response(body, media_type=JSON)


@router.post("/churn/score", response_model=CustomerChurn, tags=["churn"])
async def churn_score(
    service: ServiceDep,
    metrics: MetricsDep,
    pool: OnlinePoolDep,
    request: ScoreRequest,
    lang: LangQuery = None,
) -> Response:
    """Score a customer from posted raw orders (same validation and feature code as batch)."""
    orders = request.order_records()
    signals = request.signal_records()
    work = partial(service.score_orders, request.customer_id, orders, request.as_of,
                   lang or request.lang, request.top_k, signals=signals)  # fmt: skip
    answer = await asyncio.get_running_loop().run_in_executor(pool, work)
    metrics.observe_prediction(answer.probability, answer.risk_level)
    return Response(answer.body, media_type=JSON)
