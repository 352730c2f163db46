"""Alerts and outcomes for the API: the alert database behind ``/v1/alerts`` and
``/v1/outcomes``. No FastAPI here (routes in :mod:`serving.routes.alerts`).

The store is opened (and migrated) on first use, so a database that is down makes these
routes answer ``503 alerts_unavailable`` without stopping the churn routes. Performance
reads the cleaned orders (``CHURN_ORDERS_PATH``; without the file every alert is pending)
and is cached per orders-file mtime, alert count and outcome count.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from alerts.fields import API_FIELDS, CODE_LIST_FIELDS
from alerts.measure import performance, read_orders
from alerts.store import AlertStore, Outcome, StoreError, open_store
from alerts.tables import AlertRow, OutcomeRow
from serving.service import ServiceError

logger = logging.getLogger(__name__)


class AlertsUnavailable(ServiceError):
    status, code = 503, "alerts_unavailable"


class AlertNotFound(ServiceError):
    status, code = 404, "alert_not_found"


class AlertService:
    """Lists alerts, records outcomes, measures performance."""

    def __init__(
        self,
        db_url: str,
        orders_path: Path,
        resamples: int = 1000,
        level: float = 0.95,
        seed: int = 0,
    ) -> None:
        self.db_url = db_url
        self.orders_path = orders_path
        self.resamples, self.level, self.seed = resamples, level, seed
        self._store: AlertStore | None = None
        self._lock = threading.Lock()
        self._cache: tuple[tuple[float, int, int], dict[str, Any]] | None = None

    def store(self) -> AlertStore:
        with self._lock:
            if self._store is None:
                try:
                    self._store = open_store(self.db_url)
                except (SQLAlchemyError, OSError) as exc:
                    logger.error("alert database unavailable: %s", exc)
                    raise AlertsUnavailable("the alert database is unavailable") from exc
            return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.engine.dispose()

    def list_alerts(
        self, status: str | None, owner: str | None, limit: int, offset: int
    ) -> dict[str, Any]:
        try:
            total, rows = self.store().list_alerts(status, owner, limit, offset)
        except SQLAlchemyError as exc:
            raise AlertsUnavailable("the alert database is unavailable") from exc
        return {
            "total": total,
            "limit": limit,
            "offset": offset,
            "alerts": [alert_body(r) for r in rows],
        }

    def record_outcome(self, outcome: Outcome) -> tuple[dict[str, Any], bool]:
        if outcome.alert_id is None and outcome.customer_id is None:
            message = "alert_id or customer_id is required"
            raise MissingField(message, [{"loc": ["body", "alert_id"], "message": message}])
        try:
            row, created = self.store().record_outcome(outcome)
        except StoreError as exc:
            raise AlertNotFound(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise AlertsUnavailable("the alert database is unavailable") from exc
        return outcome_body(row), created

    def performance(self) -> dict[str, Any]:
        """Measured on the orders file; without one every alert is still pending."""
        store = self.store()
        try:
            alerts, outcomes = store.alerts_frame(), store.outcomes_frame()
        except SQLAlchemyError as exc:
            raise AlertsUnavailable("the alert database is unavailable") from exc
        exists = self.orders_path.exists()
        key = (self.orders_path.stat().st_mtime if exists else -1.0, len(alerts), len(outcomes))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        if not exists:
            logger.warning("no orders file at %s: nothing can be measured", self.orders_path)
        orders = read_orders(self.orders_path)
        result = performance(alerts, outcomes, orders, self.resamples, self.level, self.seed)
        self._cache = (key, result)
        return result


class MissingField(ServiceError):
    status, code = 422, "validation_error"


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def alert_body(row: AlertRow) -> dict[str, Any]:
    """An alert as the API returns it (the control group is never listed)."""
    out = {k: _iso(getattr(row, k)) for k in API_FIELDS}
    for split in CODE_LIST_FIELDS:
        out[split] = [c for c in str(out[split]).split(";") if c]
    return out


def outcome_body(row: OutcomeRow) -> dict[str, Any]:
    return {
        "outcome_id": row.id,
        "alert_id": row.alert_id,
        "customer_id": row.customer_id,
        "action": row.action,
        "contacted_at": _iso(row.contacted_at) + "Z",
        "result": row.result,
        "note": row.note,
        "recorded_at": _iso(row.recorded_at) + "Z",
    }


def parse_time(value: str) -> datetime:
    """ISO timestamp (``Z`` allowed)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
