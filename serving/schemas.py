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


CHURN_EXAMPLE: dict[str, Any] = {
    "customer_id": "12754", "churn_probability": 0.684, "risk_level": "high",
    "risk_level_label": "high risk", "value_tier": "high", "value_tier_label": "high value",
    "revenue_at_risk": 507.78,
    "reasons": [
        {"code": "SPEND_DECLINE", "name": "Less spend", "family": "SPEND_DECLINE",
         "impact": 0.0999, "feature": "spend_90d", "feature_label": "Spend, last 90 days",
         "value": 0.0, "reference": 311.86,
         "text": "Spent £0 in the last 90 days (active customers: £312)"},
    ],
    "triggered_rules": [
        {"code": "RULE_INACTIVE",
         "text": "No order for 236 days (rule for high-value customers: 30 days)"}
    ],
    "as_of": "2011-12-10", "model_version": "1",
}  # fmt: skip


class CustomerChurn(BaseModel):
    """Churn risk of one customer, identical to the batch score for the same model."""

    model_config = ConfigDict(json_schema_extra={"examples": [CHURN_EXAMPLE]})

    customer_id: str = Field(description="The CRM's id of the customer.")
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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_ids": ["12754", "12414", "nope"], "lang": "zh-CN", "top_k": 2}]
        },
    )

    customer_ids: list[str] = Field(description="Customer ids (length limit: see 413).")
    lang: Lang = Field("en", description="Language of texts and labels.")
    top_k: int | None = Field(
        None, ge=0, le=MAX_TOP_K, description="Reasons to return (default: CHURN_DEFAULT_TOP_K)."
    )


class BatchResponse(BaseModel):
    """Answers for the known ids in request order, and the unknown ids."""

    results: list[CustomerChurn] = Field(description="One answer per known id, in request order.")
    not_found: list[str] = Field(description="Requested ids that are not in the snapshot.")


#: A value the ingest checks read as text (a JSON number or string); bad values are
#: ``422 invalid_orders`` naming the order's index and field, like a bad export line.
Number = float | int | str
Text = str | int


class OrderLine(BaseModel):
    """One order line, in the canonical fields of the batch ingest.

    Every field but ``order_ts`` is optional per order: an order without ``quantity``
    is checked as if the export had no quantity column, whatever the other orders carry.
    Values are checked by the batch ingest rules (``422 invalid_orders`` with the
    order's index, the field and the reason, e.g. ``bad_timestamp``, ``bad_number``).
    """

    model_config = ConfigDict(
        extra="allow",  # an unknown field is an ``unknown_field`` invalid order, like batch
        json_schema_extra={
            "examples": [
                {"order_id": "A1", "order_ts": "2011-03-02T10:15:00", "amount": 120.5,
                 "status": "completed", "product_id": "85123A", "quantity": 6}
            ]
        },
    )  # fmt: skip

    order_ts: str = Field(
        description="When the order was placed: ISO timestamp (`2011-03-02T10:15:00`, a"
        " date, or with `Z`/`+02:00`; offsets are converted to UTC)."
    )
    amount: Number | None = Field(
        None,
        description="Signed line value in the data currency (a return may be negative)."
        " Required unless both `quantity` and `unit_price` are given (amount = their product).",
    )
    quantity: Number | None = Field(
        None, description="Units on the line (negative: a return, when params say so)."
    )
    unit_price: Number | None = Field(
        None, description="Price per unit; with `quantity` it stands in for `amount`."
    )
    status: str | None = Field(
        None,
        description="`completed` (default), `returned` or `cancelled` (or a status the"
        " params' `data.status.value_map` maps to one of them).",
    )
    order_id: Text | None = Field(
        None, description="Order or invoice id (default: `<customer_id>@<order_ts>`)."
    )
    product_id: Text | None = Field(
        None, description="Product (SKU); feeds the product-variety features."
    )
    category: Text | None = Field(None, description="Product category, when the CRM has one.")
    customer_id: Text | None = Field(
        None, description="Optional; when given it must be the request's `customer_id`."
    )


DOC_SCORE_EXAMPLE: dict[str, Any] = {
    "customer_id": "new-0042",
    "orders": [
        {"order_id": "A1", "order_ts": "2011-03-02T10:15:00", "amount": 120.5,
         "status": "completed", "product_id": "85123A", "quantity": 6},
        {"order_id": "A2", "order_ts": "2011-06-11T09:00:00", "amount": 80.0},
        {"order_id": "A3", "order_ts": "2011-07-01T14:30:00", "amount": -20.0,
         "status": "returned"},
    ],
}  # fmt: skip


SignalTable = Literal["tickets", "interactions", "contracts", "invoices", "usage"]


class ScoreRequest(BaseModel):
    """A customer's raw orders, for customers newer than the last batch."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [DOC_SCORE_EXAMPLE]})

    customer_id: str = Field(
        min_length=1, max_length=MAX_ID_LENGTH, description="The CRM's id of the customer."
    )
    as_of: datetime | None = Field(
        None,
        description="Cutoff: features are computed as of this time and later orders are"
        " ignored. Default: the loaded snapshot's cutoff.",
    )
    orders: list[OrderLine] = Field(
        description="The customer's order lines (limit: CHURN_MAX_ORDERS, 413 above it)."
    )
    lang: Lang = Field("en", description="Language of texts and labels.")
    top_k: int | None = Field(
        None, ge=0, le=MAX_TOP_K, description="Reasons to return (default: CHURN_DEFAULT_TOP_K)."
    )

    signals: dict[SignalTable, list[dict[str, Any]]] | None = Field(
        None,
        description="Signal events beside the orders (issue 14): tickets, interactions,"
        " contracts, invoices, usage, each a list of rows in the canonical columns of"
        " docs/signals.md. A table the model reads but that is not sent counts as no events.",
    )

    def signal_records(self) -> dict[str, list[dict[str, Any]]] | None:
        """The posted signal events per table (None when none were sent)."""
        return None if self.signals is None else {str(k): v for k, v in self.signals.items()}

    def order_records(self) -> list[dict[str, Any]]:
        """The orders as the records the ingest checks read (only the fields sent).

        One dump of the whole list: half the time of one ``model_dump`` per order.
        """
        orders: list[dict[str, Any]] = self.model_dump(include={"orders"}, exclude_unset=True)[
            "orders"
        ]
        return orders


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
