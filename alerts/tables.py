"""The alert database schema (SQLAlchemy 2). Changes go through an Alembic migration.

``alerts`` holds every alert of every cycle (treatment and control), ``deliveries`` one
row per alert and channel (sent once, failures retried next run), ``outcomes`` the
follow-ups the CRM reports, unique on ``(alert_id, contacted_at)``. Times are stored as
naive UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Results a follow-up can have (POST /v1/outcomes, ``churn outcomes import``).
RESULTS = ("retained", "lost", "no_answer", "in_progress")
#: Results that close an alert.
FINAL_RESULTS = ("retained", "lost")


class Base(DeclarativeBase):
    pass


class AlertRow(Base):
    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cycle: Mapped[date] = mapped_column(Date, index=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    owner: Mapped[str | None] = mapped_column(String(128), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column(String(16))
    is_new: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), index=True)
    churn_probability: Mapped[float] = mapped_column(Float)
    risk_level: Mapped[str] = mapped_column(String(16))
    value_tier: Mapped[str] = mapped_column(String(16))
    revenue_at_risk: Mapped[float | None] = mapped_column(Float)
    expected_value: Mapped[float] = mapped_column(Float)
    reason_codes: Mapped[str] = mapped_column(Text)
    reason_family: Mapped[str] = mapped_column(String(32))
    reasons_en: Mapped[str] = mapped_column(Text)
    reasons_zh: Mapped[str] = mapped_column(Text)
    rule_codes: Mapped[str] = mapped_column(Text)
    rules_en: Mapped[str] = mapped_column(Text)
    rules_zh: Mapped[str] = mapped_column(Text)
    action_en: Mapped[str] = mapped_column(Text)
    action_zh: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(String(64))
    due: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class DeliveryRow(Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel", name="uq_delivery_alert_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.alert_id"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    __table_args__ = (
        UniqueConstraint("alert_id", "contacted_at", name="uq_outcome_alert_contacted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.alert_id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(Text)
    contacted_at: Mapped[datetime] = mapped_column(DateTime)
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
