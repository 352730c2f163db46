"""Typed params for the ``alerts`` section: the worklist, its delivery and its measurement."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.base import Frozen
from config.scoring import RISK_LEVELS


class Action(Frozen):
    """A suggested follow-up, in both languages."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


def _default_playbook() -> dict[str, Action]:
    return {
        "RECENCY": Action(en="Call to re-open the account", zh="致电客户，重新激活账户"),
        "FREQUENCY_DECLINE": Action(
            en="Check in: why fewer orders lately", zh="回访：了解近期下单减少的原因"
        ),
        "SPEND_DECLINE": Action(en="Offer a volume deal", zh="提供批量采购优惠"),
        "ORDER_CYCLE": Action(en="Call about replenishment needs", zh="致电了解补货需求"),
        "CATEGORY_SHIFT": Action(
            en="Review the product range they stopped buying", zh="回顾客户停购的品类"
        ),
        "RETURNS": Action(en="Service follow-up on recent returns", zh="就近期退货进行服务回访"),
    }


class WebhookParams(Frozen):
    """Where and how alerts are pushed (``url: null``: files only)."""

    url: str | None = None
    format: Literal["generic", "dingtalk", "wecom", "slack"] = "generic"
    timeout_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    backoff_seconds: float = Field(default=0.5, ge=0)
    secret_env: str = "CHURN_WEBHOOK_SECRET"  # HMAC key: read from this variable, never params


class AlertsParams(Frozen):
    """The ``alerts`` section: who is alerted per cycle, how often, and what to do."""

    risk_levels: tuple[Literal["low", "medium", "high"], ...] = ("medium", "high")
    min_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    capacity_per_cycle: int = Field(default=200, ge=1)
    capacity_per_owner: int | None = Field(default=None, ge=1)
    cooldown_days: int = Field(default=30, ge=0)
    cooldown_risk_rise: float = Field(default=0.10, ge=0.0, le=1.0)
    control_share: float = Field(default=0.10, ge=0.0, lt=1.0)
    playbook: dict[str, Action] = Field(default_factory=_default_playbook)
    default_action: Action = Action(en="Call to check in", zh="致电回访")
    db_url: str = "sqlite:///data/alerts/alerts.db"  # CHURN_DB_URL wins; relative = repo root
    webhook: WebhookParams = WebhookParams()
    bootstrap: int = Field(default=1000, ge=10)
    ci_level: float = Field(default=0.95, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _levels(self) -> AlertsParams:
        unknown = sorted(set(self.risk_levels) - set(RISK_LEVELS))
        if unknown or not self.risk_levels:
            raise ValueError(f"risk_levels must be a non-empty subset of {RISK_LEVELS}")
        return self
