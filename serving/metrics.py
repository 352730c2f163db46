"""Prometheus metrics on a per-app registry (two apps in one test process never collide).

Request counts and latency are recorded by a pure ASGI middleware (cheaper than
``BaseHTTPMiddleware``) labelled by the *route template* (``/v1/customers/{customer_id}/churn``),
never the raw path, so customer ids cannot blow up label cardinality.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


class ApiMetrics:
    """All metrics of one app instance, registered on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "churn_http_requests", "HTTP requests.", ("method", "route", "status"), registry=r
        )
        self.latency = Histogram(
            "churn_http_request_duration_seconds", "Request latency.", ("method", "route"),
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.model = Info("churn_model", "The model being served.", registry=r)
        self.loaded = Gauge("churn_model_loaded", "1 when a model is loaded.", registry=r)
        self.customers = Gauge("churn_snapshot_customers", "Customers precomputed.", registry=r)
        self.reloads = Counter("churn_model_reloads", "Reloads.", ("outcome",), registry=r)
        self.probability = Histogram(
            "churn_prediction_probability", "Churn probabilities served.",
            buckets=PROBABILITY_BUCKETS, registry=r,
        )  # fmt: skip
        self.risk = Counter("churn_predictions", "Predictions served.", ("risk_level",), registry=r)
        self.alert_stats = Gauge(
            "churn_alerts_performance",
            "Alert performance at the last GET /v1/alerts/performance (overall and by segment).",
            ("segment", "value", "stat"), registry=r,
        )  # fmt: skip
        self._risk_children: dict[str, Any] = {}

    def set_model(self, info: Mapping[str, Any], customers: int) -> None:
        """Publish the loaded model's identity (labels of the info metric)."""
        keys = ("name", "version", "alias", "catalog_version")
        self.model.info({k: str(info.get(k) or "") for k in keys})
        self.loaded.set(1)
        self.customers.set(customers)

    def set_alert_performance(self, result: Mapping[str, Any]) -> None:
        """Gauges of hit rate, retention and uplift (stats that are None are left out)."""
        stats = ("alerts", "hit_rate_control", "retention_treatment", "retention_control",
                 "uplift", "uplift_low", "uplift_high")  # fmt: skip
        rows = [("all", "all", result["overall"])]
        rows += [(seg, str(row["value"]), row) for seg, items in result["by"].items()
                 for row in items]  # fmt: skip
        for segment, value, row in rows:
            for stat in stats:
                if row.get(stat) is not None:
                    self.alert_stats.labels(segment, value, stat).set(float(row[stat]))

    def observe_predictions(self, answers: Iterable[tuple[float, str]]) -> None:
        """Record served probabilities and risk levels (the prediction distribution)."""
        children, observe = self._risk_children, self.probability.observe
        for probability, risk_level in answers:  # inline: a batch answer is 1,000 of these
            observe(probability)
            child = children.get(risk_level)
            if child is None:
                child = children[risk_level] = self.risk.labels(risk_level)
            child.inc()

    def observe_prediction(self, probability: float, risk_level: str) -> None:
        """Record one served probability and risk level."""
        self.probability.observe(probability)
        child = self._risk_children.get(risk_level)
        if child is None:
            child = self._risk_children[risk_level] = self.risk.labels(risk_level)
        child.inc()


class MetricsMiddleware:
    """Counts requests and times them per (method, route template, status)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        key = (method, template, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.requests.labels(method, template, status)
        counter.inc()
        timer = self._timers.get(key[:2])
        if timer is None:
            timer = self._timers[key[:2]] = self.metrics.latency.labels(method, template)
        timer.observe(seconds)
