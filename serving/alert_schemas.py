"""Request and response models of ``/v1/alerts``, ``/v1/outcomes``, ``/v1/alerts/performance``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.schemas import MAX_ID_LENGTH

AlertStatus = Literal["open", "in_progress", "closed"]
Result = Literal["retained", "lost", "no_answer", "in_progress"]


class Alert(BaseModel):
    """One delivered alert (control hold-outs are never listed)."""

    alert_id: str = Field(description="Stable id: the same cycle and customer give the same id.")
    cycle: str = Field(description="Scoring cycle (the snapshot's as-of date).")
    customer_id: str
    owner: str | None = Field(description="Sales rep, when the export maps one.")
    rank: int = Field(description="1 = highest expected value saved in the cycle.")
    is_new: bool = Field(description="Not alerted in the previous cycle.")
    status: str = Field(description="open | in_progress | closed (after retained or lost).")
    churn_probability: float
    risk_level: str
    value_tier: str
    revenue_at_risk: float | None
    expected_value: float
    reason_codes: list[str]
    reason_family: str = Field(description="The reason family that chose the action.")
    reasons_en: str
    reasons_zh: str
    rule_codes: list[str]
    rules_en: str
    rules_zh: str
    action_en: str
    action_zh: str
    model_version: str
    due: str = Field(description="Cycle + horizon: when the outcome is measured.")


class AlertPage(BaseModel):
    total: int
    limit: int
    offset: int
    alerts: list[Alert]


class OutcomeRequest(BaseModel):
    """A follow-up the sales team made; idempotent on (alert_id, contacted_at)."""

    model_config = ConfigDict(extra="forbid")

    alert_id: str | None = Field(None, min_length=1, max_length=40)
    customer_id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="Used when alert_id is missing: the customer's latest delivered alert.",
    )
    action: str = Field(min_length=1, max_length=500, description="What was done.")
    contacted_at: datetime = Field(description="ISO timestamp; without a zone it is UTC.")
    result: Result
    note: str | None = Field(None, max_length=2000)


class OutcomeResponse(BaseModel):
    outcome_id: int
    alert_id: str
    customer_id: str
    action: str
    contacted_at: str
    result: str
    note: str | None
    recorded_at: str


class SegmentPerformance(BaseModel):
    model_config = ConfigDict(extra="allow")

    alerts: int
    treatment: int
    control: int
    contacted: int
    hit_rate_control: float | None
    hit_rate_treatment: float | None
    retention_treatment: float | None
    retention_contacted: float | None
    retention_control: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None


class Performance(BaseModel):
    data_end: str | None = Field(description="Last order date measured against (null: none).")
    measured_alerts: int
    pending_alerts: int
    ci_level: float
    overall: SegmentPerformance
    recall: float | None
    by: dict[str, list[SegmentPerformance]]
