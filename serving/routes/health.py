"""Liveness, readiness and Prometheus metrics (no API key: for the orchestrator)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.routes.deps import MetricsDep, ServiceDep
from serving.schemas import Health, Readiness

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (says nothing about the model)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(service: ServiceDep) -> Response:
    """200 when a model and snapshot are loaded, else 503 with the reason."""
    if not service.ready:
        status = "failed" if service.last_error else "loading"
        body = Readiness(status=status, model_loaded=False, detail=service.last_error)
        return JSONResponse(body.model_dump(), status_code=503)
    state = service.state
    version = state.info.get("version")
    body = Readiness(
        status="ready",
        model_loaded=True,
        model_version=None if version is None else str(version),
        customers=state.n_customers,
    )
    return JSONResponse(body.model_dump())


@router.get("/metrics", response_class=Response)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text exposition of this process's metrics."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
