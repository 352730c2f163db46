"""What is served, and the admin reload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from serving.records import as_of_text, dumps
from serving.routes.deps import MetricsDep, ServiceDep, require_admin_key, require_client_key
from serving.schemas import ErrorBody, ModelInfo, ReloadResponse
from serving.service import ReloadFailed

ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (400, 401, 403, 503)}
router = APIRouter(prefix="/v1", responses=ERRORS)


@router.get(
    "/model",
    response_model=ModelInfo,
    dependencies=[Depends(require_client_key)],
    tags=["model"],
)
async def model_info(service: ServiceDep) -> Response:
    """Name, version, alias, training facts, metrics and catalog versions of the model."""
    return Response(dumps(service.model_info()), media_type="application/json")


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin_key)],
    tags=["admin"],
)
def reload_model(service: ServiceDep, metrics: MetricsDep) -> ReloadResponse:
    """Load model and snapshot again and swap them in atomically (admin key)."""
    try:
        state = service.reload()
    except ReloadFailed:
        metrics.reloads.labels("failure").inc()
        raise
    service.signal.touch()
    metrics.reloads.labels("success").inc()
    metrics.set_model(state.info, state.n_customers)
    return ReloadResponse(
        status="reloaded",
        model_version=_version(state.info),
        customers=state.n_customers,
        snapshot_as_of=as_of_text(state.as_of),
    )


def _version(info: Any) -> str | None:
    version = info.get("version")
    return None if version is None else str(version)
