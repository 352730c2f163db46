"""The closed loop: the alert worklist, follow-up outcomes, and alert performance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from alerts.store import Outcome
from serving.alert_schemas import (
    AlertPage,
    AlertStatus,
    OutcomeRequest,
    OutcomeResponse,
    Performance,
)
from serving.alert_service import AlertService
from serving.routes.deps import MetricsDep, require_client_key
from serving.schemas import MAX_ID_LENGTH, ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody} for s in (400, 401, 403, 404, 413, 422, 503)
}
router = APIRouter(prefix="/v1", dependencies=[Depends(require_client_key)], responses=ERRORS)


async def get_alert_service(request: Request) -> AlertService:
    service: AlertService = request.app.state.alerts
    return service


AlertServiceDep = Annotated[AlertService, Depends(get_alert_service)]


@router.get("/alerts", response_model=AlertPage, tags=["alerts"])
async def list_alerts(
    service: AlertServiceDep,
    status: Annotated[AlertStatus | None, Query(description="open | in_progress | closed")] = None,
    owner: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Delivered alerts, newest cycle first, then by rank (paged)."""
    body = await run_in_threadpool(service.list_alerts, status, owner, limit, offset)
    return JSONResponse(body)


@router.post(
    "/outcomes",
    response_model=OutcomeResponse,
    status_code=201,
    tags=["alerts"],
    responses={
        200: {
            "model": OutcomeResponse,
            "description": "Already recorded (same alert "
            "and contacted_at): the stored outcome, nothing changed.",
        }
    },
)
async def post_outcome(service: AlertServiceDep, request: OutcomeRequest) -> JSONResponse:
    """Record a follow-up: 201 when new, 200 when this (alert, contacted_at) was recorded."""
    outcome = Outcome(
        action=request.action,
        contacted_at=request.contacted_at,
        result=request.result,
        alert_id=request.alert_id,
        customer_id=request.customer_id,
        note=request.note,
    )
    body, created = await run_in_threadpool(service.record_outcome, outcome)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/alerts/performance", response_model=Performance, tags=["alerts"])
async def alert_performance(service: AlertServiceDep, metrics: MetricsDep) -> JSONResponse:
    """Hit rate, recall, retention and uplift vs control, overall and by segment."""
    result = await run_in_threadpool(service.performance)
    metrics.set_alert_performance(result)
    return JSONResponse(result)
