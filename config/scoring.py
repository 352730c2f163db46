"""Typed params for the ``reasons``, ``risk``, ``score`` and ``rules`` sections."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.base import Frozen
from config.features import TIER_NAMES

RiskLevel = Literal["low", "medium", "high"]
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high")


class RiskThresholds(Frozen):
    """Probability at or above which a customer is ``medium`` / ``high`` risk."""

    medium: float = Field(gt=0.0, lt=1.0)
    high: float = Field(gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> RiskThresholds:
        if self.high <= self.medium:
            raise ValueError("high must exceed medium")
        return self


class RiskParams(Frozen):
    """The ``risk`` section: default thresholds and per-value-tier overrides."""

    thresholds: RiskThresholds
    by_tier: dict[str, RiskThresholds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_tiers(self) -> RiskParams:
        unknown = sorted(set(self.by_tier) - set(TIER_NAMES))
        if unknown:
            raise ValueError(f"by_tier names unknown value tiers {unknown}; use {TIER_NAMES}")
        return self


class ReasonsParams(Frozen):
    """The ``reasons`` section: how many reasons, how big, and what low risk gets."""

    top_k: int = Field(default=3, ge=1)  # at most MAX_REASONS: checked by score_config
    min_impact: float = Field(default=0.005, ge=0.0, lt=1.0)
    low_risk_mode: Literal["empty", "protective"] = "empty"


class ScoreParams(Frozen):
    """The ``score`` section: how TreeSHAP is computed and how big a batch is."""

    contrib_method: Literal["auto", "lightgbm", "dedup"] = "auto"
    dedup_min_rows: int = Field(default=5000, ge=1)
    impact_chunk_rows: int = Field(default=50_000, ge=1)
    shapley_max_players: int = Field(default=10, ge=3, le=16)
    chunk_rows: int = Field(default=1_000_000, ge=1)


class InactivityDays(Frozen):
    """Days without an order that trigger ``RULE_INACTIVE``, per value tier."""

    low: int = Field(default=60, gt=0)
    medium: int = Field(default=60, gt=0)
    high: int = Field(default=30, gt=0)


class RulesParams(Frozen):
    """The ``rules`` section of params.yaml."""

    inactivity_days: InactivityDays = Field(default_factory=InactivityDays)
    spend_drop_share: float = Field(default=0.5, gt=0, le=1)
    return_rate_max: float = Field(default=0.05, ge=0)
    cancel_rate_max: float = Field(default=0.05, ge=0)
    regular_categories_missed_min: int = Field(default=1, ge=1)
    # rules on signal tables (issue 14; bundle/rules_signals.py)
    contract_end_days: int = Field(default=30, ge=0)
    complaint_spike_min: int = Field(default=2, ge=1)
    payment_overdue_days: int = Field(default=30, ge=0)
