"""Typed dependencies shared by the routes (overridable in tests)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from serving.metrics import ApiMetrics
from serving.security import API_KEY_HEADER, KeyChecker
from serving.service import ChurnService

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey")
_admin_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="AdminKey")


async def get_service(request: Request) -> ChurnService:
    """The app's service (built by the lifespan)."""
    service: ChurnService = request.app.state.service
    return service


async def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


async def get_keys(request: Request) -> KeyChecker:
    keys: KeyChecker = request.app.state.keys
    return keys


async def get_online_pool(request: Request) -> ThreadPoolExecutor:
    """The bounded thread pool online scoring runs in (see serving.app)."""
    pool: ThreadPoolExecutor = request.app.state.online_pool
    return pool


ServiceDep = Annotated[ChurnService, Depends(get_service)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
KeysDep = Annotated[KeyChecker, Depends(get_keys)]
OnlinePoolDep = Annotated[ThreadPoolExecutor, Depends(get_online_pool)]


async def require_client_key(keys: KeysDep, key: Annotated[str | None, Security(_api_key)]) -> None:
    """401 without X-API-Key, 403 with a key that is not a client (or admin) key."""
    keys.check_client(key)


async def require_admin_key(
    keys: KeysDep, key: Annotated[str | None, Security(_admin_key)]
) -> None:
    """401 without X-API-Key, 403 unless it is the admin key."""
    keys.check_admin(key)
