"""The FastAPI application factory: ``uvicorn serving.app:create_app --factory``.

Importing this module does nothing. :func:`create_app` wires settings, metrics, error
handlers and routes; the lifespan builds the service and loads the model and snapshot
once (in the background by default, so ``/healthz`` answers while ``/readyz`` says 503
until the first load finishes; a failed load leaves the API answering 503, never
crashing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from alerts.store import resolve_db_url
from config.alerts import AlertsParams
from config.base import ParamsError
from config.root import load_params
from serving.accesslog import install_access_log_redaction
from serving.alert_service import AlertService
from serving.docs_ui import install_docs
from serving.errors import install_error_handlers
from serving.limits import BodyLimitMiddleware
from serving.metrics import ApiMetrics, MetricsMiddleware
from serving.routes import alerts, customers, health, model
from serving.security import KeyChecker
from serving.service import Backend, ChurnService, ReloadFailed, ServiceOptions
from serving.settings import LANGS, Settings, get_settings

logger = logging.getLogger(__name__)
BackendFactory = Callable[[Settings], Backend]


def service_options(settings: Settings) -> ServiceOptions:
    """The service's limits and defaults from the settings."""
    return ServiceOptions(
        langs=LANGS,
        default_top_k=settings.default_top_k,
        max_top_k=settings.max_top_k,
        max_batch_size=settings.max_batch_size,
        max_orders=settings.max_orders,
        signal_path=settings.reload_signal_path,
    )


def _default_backend(settings: Settings) -> Backend:
    from serving.backend import PipelineBackend  # heavy imports (mlflow) only when serving

    return PipelineBackend(settings)


def alert_service(settings: Settings) -> AlertService:
    """The alert database of ``CHURN_DB_URL``, else of params ``alerts.db_url``."""
    try:
        params = load_params(settings.params_path)
        cfg, seed = params.alerts, params.seed
    except ParamsError as exc:  # the churn routes do not need params: keep serving them
        logger.warning("alerts use default settings: %s", exc)
        cfg, seed = AlertsParams(), 0
    url = settings.db_url or resolve_db_url(cfg.db_url, settings.params_path.resolve().parent)
    return AlertService(url, settings.orders_path, cfg.bootstrap, cfg.ci_level, seed)


async def _load(service: ChurnService, metrics: ApiMetrics) -> None:
    """Load (or reload) in a worker thread; failures are logged and leave a 503."""
    try:
        state = await run_in_threadpool(service.reload)
    except ReloadFailed:
        metrics.reloads.labels("failure").inc()
        return
    metrics.reloads.labels("success").inc()
    metrics.set_model(state.info, state.n_customers)


async def _watch_signal(service: ChurnService, metrics: ApiMetrics, every: float) -> None:
    """Reload when another worker's admin reload touched the shared signal file."""
    while True:
        await asyncio.sleep(every)
        if service.signal.pending():
            logger.info("reload signal seen; reloading")
            await _load(service, metrics)


def _lifespan(
    settings: Settings, backend_factory: BackendFactory
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = settings.resolved_api_keys()
        if not keys:
            logger.warning("no API keys configured (CHURN_API_KEYS): every /v1 call is refused")
        app.state.keys = KeyChecker.from_keys(keys, settings.resolved_admin_key())
        service = ChurnService(backend_factory(settings), service_options(settings))
        app.state.service = service
        app.state.alerts = alert_service(settings)
        # Online scoring (DuckDB + TreeSHAP, tens of ms) runs in its own bounded pool: it
        # cannot starve the default thread pool, and its threads end with the app, so the
        # per-thread DuckDB connections of features.online close cleanly at shutdown.
        pool = ThreadPoolExecutor(settings.online_workers, thread_name_prefix="churn-online")
        app.state.online_pool = pool
        tasks: list[asyncio.Task[None]] = []
        if settings.startup_load == "blocking":
            await _load(service, app.state.metrics)
        elif settings.startup_load == "background":
            tasks.append(asyncio.create_task(_load(service, app.state.metrics)))
        if settings.reload_signal_path is not None:
            poll = settings.reload_poll_seconds
            tasks.append(asyncio.create_task(_watch_signal(service, app.state.metrics, poll)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            pool.shutdown(wait=True)
            app.state.alerts.close()

    return lifespan


def create_app(
    settings: Settings | None = None, backend_factory: BackendFactory | None = None
) -> FastAPI:
    """Build the API. Defaults: settings from the environment, the pipeline backend."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Churn early-warning API",
        version="1",
        description="Churn probability, reasons and rules per customer, for CRMs.",
        lifespan=_lifespan(settings, backend_factory or _default_backend),
        docs_url=None,  # served from shipped assets, not a CDN: serving.docs_ui
        redoc_url=None,
    )
    # the hot GET route first: the router tries routes in order (the docs UI's mount
    # and pages are not in the OpenAPI schema, so its path order is unchanged)
    app.include_router(customers.fast_router)
    install_docs(app)
    app.state.settings = settings
    app.state.metrics = ApiMetrics()
    install_access_log_redaction()
    install_error_handlers(app)
    for router in (customers.router, alerts.router, model.router, health.router):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
