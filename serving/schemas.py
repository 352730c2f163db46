"""Request and response models of the v1 API (the OpenAPI schema is generated from them).

Hot routes return precomputed JSON bytes; these models document that JSON and are what
the schemathesis test validates every response against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from features.reason_codes import MAX_REASONS

Lang = Literal["en", "zh-CN"]
#: Longest customer id accepted anywhere (CRM ids are short strings).
MAX_ID_LENGTH = 128
#: At most one reason per family.
MAX_TOP_K = MAX_REASONS


class Reason(BaseModel):
    """One reason the model sees raised risk, in the caller's language."""

    code: str = Field(description="Stable reason code the CRM can route on.")
    name: str = Field(description="What the reason code means, in the caller's language.")
    family: str = Field(description="Reason family from the feature catalog.")
    impact: float | None = Field(
        description="Impact on the churn probability in probability points (0-1, 4 decimals):"
        " 0.12 = +12 points."
    )
    feature: str = Field(description="Catalog name of the feature that drives this reason.")
    feature_label: str = Field(description="The feature's name in the caller's language.")
    value: float | None = Field(description="The feature's value for this customer.")
    reference: float | None = Field(
        description="What the value is compared with: the median of active customers, or the"
        " customer's own history (e.g. the usual order gap); null when there is none."
    )
    text: str = Field(description="A sentence a sales rep can read, in the caller's language.")


class TriggeredRule(BaseModel):
    """A vendor rule this customer triggers."""

    code: str = Field(description="Stable rule code (see docs/serving.md).")
    text: str = Field(description="The rule's sentence in the caller's language.")


class CustomerChurn(BaseModel):
    """Churn risk of one customer, identical to the batch score for the same model."""

    customer_id: str
    churn_probability: float = Field(
        ge=0.0, le=1.0, description="Calibrated probability of no order within the horizon."
    )
    risk_level: str = Field(description="low | medium | high (stable identifier).")
    risk_level_label: str = Field(description="The risk level in the caller's language.")
    value_tier: str = Field(description="low | medium | high by spend in the last 365 days.")
    value_tier_label: str = Field(description="The value tier in the caller's language.")
    revenue_at_risk: float | None = Field(
        description="Probability x net spend of the last 365 days over the horizon (currency)."
    )
    reasons: list[Reason] = Field(description="Top reasons, largest impact first.")
    triggered_rules: list[TriggeredRule] = Field(description="Vendor rules that fire.")
    as_of: str = Field(description="Cutoff the features were computed at (ISO date).")
    model_version: str = Field(description="Registry version of the model that scored.")


class BatchRequest(BaseModel):
    """Up to ``CHURN_MAX_BATCH_SIZE`` customer ids."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[str] = Field(description="Customer ids (length limit: see 413).")
    lang: Lang = "en"
    top_k: int | None = Field(None, ge=0, le=MAX_TOP_K)


class BatchResponse(BaseModel):
    results: list[CustomerChurn]
    not_found: list[str]


class ScoreRequest(BaseModel):
    """A customer's raw orders, for customers newer than the last batch."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    as_of: datetime | None = Field(None, description="Cutoff; default: the snapshot's.")
    orders: list[dict[str, Any]] = Field(
        description=(
            "Order lines with canonical fields: order_ts (ISO timestamp), amount (signed "
            "line value), status (completed|returned|cancelled), optional order_id, "
            "quantity, product_id, category. Limit: CHURN_MAX_ORDERS (413 above it)."
        )
    )
    lang: Lang = "en"
    top_k: int | None = Field(None, ge=0, le=MAX_TOP_K)


class ModelInfo(BaseModel):
    """What is being served."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    version: str | None = None
    alias: str | None = None
    uri: str | None = None
    trained_at: str | None = None
    data_range: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    feature_names: list[str] = []
    catalog_version: str | None = None
    reason_catalog_version: str | None = None
    rules_version: str | None = None
    horizon_days: int | None = Field(None, description="label horizon of the served bundle")
    value_tiers: dict[str, float] | None = Field(None, description="spend_365d tier thresholds")
    params_mismatch: list[str] = Field(
        [], description="where params.yaml disagrees with the served bundle (bundle wins)"
    )
    snapshot_as_of: str
    customers: int
    loaded_at: str


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    model_loaded: bool
    model_version: str | None = None
    customers: int = 0
    detail: str | None = None


class ReloadResponse(BaseModel):
    status: str
    model_version: str | None
    customers: int
    snapshot_as_of: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[Any] = []


class ErrorBody(BaseModel):
    error: ErrorDetail
