"""Typed params for the ``reasons``, ``risk``, ``score`` and ``explain`` sections.

:class:`ScoreConfig` bundles what :func:`scoring.results.score_customers` needs (the
three scoring sections plus the label horizon from ``features.horizon_days``, which
defines the revenue-at-risk window), so batch scoring and the API read one object.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.catalog import TIER_NAMES
from features.config import FeatureParams
from features.params import Frozen, load_section

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

    top_k: int = Field(default=3, ge=1, le=8)
    min_impact: float = Field(default=0.005, ge=0.0, lt=1.0)
    low_risk_mode: Literal["empty", "protective"] = "empty"


class ScoreParams(Frozen):
    """The ``score`` section: how TreeSHAP is computed and how big a batch is."""

    contrib_method: Literal["auto", "lightgbm", "dedup"] = "auto"
    dedup_min_rows: int = Field(default=5000, ge=1)
    impact_chunk_rows: int = Field(default=50_000, ge=1)
    chunk_rows: int = Field(default=1_000_000, ge=1)


class ExplainParams(Frozen):
    """The ``explain`` section: the analyst report."""

    lang: Literal["en", "zh-CN"] = "en"
    sample_rows: int = Field(default=5000, ge=100)
    top_features: int = Field(default=15, ge=1)
    n_dependence: int = Field(default=4, ge=0)
    top_customers: int = Field(default=25, ge=1)
    reliability_bins: int = Field(default=10, ge=2)


class RegistryView(BaseModel):
    """The MLflow keys of the training helper's ``registry`` section that explain reads.

    Only the keys needed to log the report are read (other keys are ignored, not
    errors: the section is validated in full by the training stage that owns it).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = "churn"
    enabled: bool = True


class ScoreConfig(Frozen):
    """Everything :func:`scoring.results.score_customers` needs besides the model."""

    reasons: ReasonsParams
    risk: RiskParams
    score: ScoreParams
    horizon_days: int = Field(gt=0)


def load_score_config(raw: dict[str, Any]) -> ScoreConfig:
    """Build :class:`ScoreConfig` from a parsed params.yaml mapping."""
    return ScoreConfig(
        reasons=load_section(raw, "reasons", ReasonsParams),
        risk=load_section(raw, "risk", RiskParams),
        score=load_section(raw, "score", ScoreParams),
        horizon_days=load_section(raw, "features", FeatureParams).horizon_days,
    )
