"""The alert database: alerts, deliveries and outcomes, through SQLAlchemy 2.

An SQLite file by default (``alerts.db_url``), PostgreSQL by URL (``CHURN_DB_URL``, e.g.
``postgresql+psycopg://user:pw@host/db``). :func:`open_store` applies the Alembic
migrations (``alerts/migrations``) before anything else touches the database. Every
write is one transaction committed before the call returns, so a process killed after
a call answered loses nothing it reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.tables import FINAL_RESULTS, AlertRow, DeliveryRow, OutcomeRow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DB_URL_ENV = "CHURN_DB_URL"


class StoreError(ValueError):
    """A request the store cannot satisfy (unknown alert, ...)."""


def resolve_db_url(configured: str, root: Path, environ: Mapping[str, str] = os.environ) -> str:
    """``CHURN_DB_URL`` wins; a relative SQLite path is relative to ``root`` (the repo)."""
    url = environ.get(DB_URL_ENV) or configured
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.is_absolute():
            url = parsed.set(database=str((root / path).resolve())).render_as_string(False)
    return url


def utc_naive(value: datetime) -> datetime:
    """Aware -> UTC without tzinfo; naive is taken as UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


@dataclass(frozen=True)
class Outcome:
    """One follow-up as the CRM reports it."""

    action: str
    contacted_at: datetime
    result: str
    alert_id: str | None = None
    customer_id: str | None = None
    note: str | None = None


class AlertStore:
    """Reads and writes of the alert database (no web framework, no pipeline code)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session.begin() as session:
            yield session

    # --- alerts ---------------------------------------------------------------------

    def save_worklist(self, alerts: pd.DataFrame) -> int:
        """Insert the cycle's alerts; ids already stored are kept as they were."""
        if alerts.empty:
            return 0
        with self.session() as s:
            known = set(
                s.scalars(
                    select(AlertRow.alert_id).where(
                        AlertRow.alert_id.in_(alerts["alert_id"].tolist())
                    )
                )
            )
            created = now()
            new = [
                _alert_row(rec, created)
                for rec in alerts.to_dict("records")
                if rec["alert_id"] not in known
            ]
            s.add_all(new)
        return len(new)

    def history(self) -> pd.DataFrame:
        """Every stored alert's customer, cycle and probability (for cooldown)."""
        with self.session() as s:
            rows = s.execute(
                select(AlertRow.customer_id, AlertRow.cycle, AlertRow.churn_probability)
            ).all()
        return pd.DataFrame(rows, columns=["customer_id", "cycle", "churn_probability"])

    def alerts_frame(self) -> pd.DataFrame:
        """Every stored alert, all columns."""
        with self.session() as s:
            rows = s.scalars(select(AlertRow).order_by(AlertRow.cycle, AlertRow.rank)).all()
        columns = [c.key for c in AlertRow.__table__.columns]
        return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)

    def list_alerts(
        self, status: str | None, owner: str | None, limit: int, offset: int
    ) -> tuple[int, list[AlertRow]]:
        """Delivered (treatment) alerts, newest cycle first, then by rank; with the total."""
        query = select(AlertRow).where(AlertRow.group == "treatment")
        if status is not None:
            query = query.where(AlertRow.status == status)
        if owner is not None:
            query = query.where(AlertRow.owner == owner)
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = s.scalars(
                query.order_by(AlertRow.cycle.desc(), AlertRow.rank).limit(limit).offset(offset)
            ).all()
        return int(total), list(page)

    def get_alert(self, alert_id: str) -> AlertRow | None:
        with self.session() as s:
            return s.get(AlertRow, alert_id)

    # --- outcomes -------------------------------------------------------------------

    def record_outcome(self, outcome: Outcome) -> tuple[OutcomeRow, bool]:
        """Store a follow-up; ``(row, False)`` when the same (alert, time) was stored."""
        contacted = utc_naive(outcome.contacted_at)
        try:
            with self.session() as s:
                alert = self._resolve(s, outcome)
                key = (alert.alert_id, contacted)
                existing = s.scalar(
                    select(OutcomeRow).where(
                        OutcomeRow.alert_id == key[0], OutcomeRow.contacted_at == contacted
                    )
                )
                if existing is not None:
                    return existing, False
                row = OutcomeRow(
                    alert_id=alert.alert_id,
                    customer_id=alert.customer_id,
                    action=outcome.action,
                    contacted_at=contacted,
                    result=outcome.result,
                    note=outcome.note,
                    recorded_at=now(),
                )
                s.add(row)
                if alert.group == "treatment" and alert.status != "closed":
                    alert.status = "closed" if outcome.result in FINAL_RESULTS else "in_progress"
        except IntegrityError:  # a concurrent writer stored the same (alert, time) first
            return self._same(*key), False
        return row, True

    def _same(self, alert_id: str, contacted: datetime) -> OutcomeRow:
        with self.session() as s:
            found = s.scalar(
                select(OutcomeRow).where(
                    OutcomeRow.alert_id == alert_id, OutcomeRow.contacted_at == contacted
                )
            )
        if found is None:  # pragma: no cover - the unique key said it exists
            raise StoreError("outcome vanished after a unique-key conflict")
        return found

    @staticmethod
    def _resolve(s: Session, outcome: Outcome) -> AlertRow:
        if outcome.alert_id is not None:
            alert = s.get(AlertRow, outcome.alert_id)
            if alert is None:
                raise StoreError(f"no alert with alert_id {outcome.alert_id!r}")
            if outcome.customer_id is not None and outcome.customer_id != alert.customer_id:
                raise StoreError(f"alert {outcome.alert_id!r} is not for {outcome.customer_id!r}")
            return alert
        found = s.scalar(
            select(AlertRow)
            .where(AlertRow.customer_id == outcome.customer_id, AlertRow.group == "treatment")
            .order_by(AlertRow.cycle.desc())
            .limit(1)
        )
        if found is None:
            raise StoreError(f"no delivered alert for customer_id {outcome.customer_id!r}")
        return found

    def outcomes_frame(self) -> pd.DataFrame:
        with self.session() as s:
            rows = s.scalars(select(OutcomeRow).order_by(OutcomeRow.id)).all()
        columns = [c.key for c in OutcomeRow.__table__.columns]
        return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)

    # --- deliveries -----------------------------------------------------------------

    def undelivered(self, channel: str) -> list[AlertRow]:
        """Treatment alerts not yet sent on ``channel`` (new ones and earlier failures)."""
        sent = select(DeliveryRow.alert_id).where(
            DeliveryRow.channel == channel, DeliveryRow.status == "sent"
        )
        with self.session() as s:
            return list(
                s.scalars(
                    select(AlertRow)
                    .where(AlertRow.group == "treatment", AlertRow.alert_id.not_in(sent))
                    .order_by(AlertRow.cycle, AlertRow.rank)
                ).all()
            )

    def mark_delivery(
        self, alert_id: str, channel: str, ok: bool, attempts: int, error: str | None = None
    ) -> None:
        """Record one run's delivery result; attempts add up over runs."""
        with self.session() as s:
            row = s.scalar(
                select(DeliveryRow).where(
                    DeliveryRow.alert_id == alert_id, DeliveryRow.channel == channel
                )
            )
            stamp = now()
            if row is None:
                row = DeliveryRow(
                    alert_id=alert_id,
                    channel=channel,
                    attempts=0,
                    status="failed",
                    updated_at=stamp,
                )
                s.add(row)
            row.attempts += attempts
            row.status = "sent" if ok else "failed"
            row.last_error = None if ok else error
            row.updated_at = stamp
            row.sent_at = stamp if ok else None

    def deliveries_frame(self) -> pd.DataFrame:
        with self.session() as s:
            rows = s.scalars(select(DeliveryRow).order_by(DeliveryRow.id)).all()
        columns = [c.key for c in DeliveryRow.__table__.columns]
        return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)


def open_store(url: str) -> AlertStore:
    """Connect, migrate to the newest schema, and return the store."""
    engine = _engine(url)
    migrate(engine)
    return AlertStore(engine)


def _alert_row(rec: dict[Any, Any], created: datetime) -> AlertRow:
    values = {c.key: rec.get(c.key) for c in AlertRow.__table__.columns}
    values["status"] = "open" if rec["group"] == "treatment" else "held_out"
    values["created_at"] = created
    values["cycle"] = _date(rec["cycle"])
    values["due"] = _date(rec["due"])
    values["rank"] = int(rec["rank"])
    values["is_new"] = bool(rec["is_new"])
    values["owner"] = rec.get("owner") if isinstance(rec.get("owner"), str) else None
    rar = rec.get("revenue_at_risk")
    values["revenue_at_risk"] = None if rar is None or pd.isna(rar) else float(rar)
    return AlertRow(**values)


def _date(value: Any) -> date:
    return pd.Timestamp(value).date()
