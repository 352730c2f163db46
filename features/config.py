"""Typed params for the ``data`` (ingest) and ``features`` sections of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from features.params import Frozen

Status = Literal["completed", "returned", "cancelled"]


class ColumnMap(Frozen):
    """Canonical column -> source column. ``None`` means the source lacks it."""

    customer_id: str
    order_id: str | None = None
    order_ts: str
    amount: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    product_id: str | None = None
    category: str | None = None
    status: str | None = None

    @model_validator(mode="after")
    def _amount_derivable(self) -> ColumnMap:
        if self.amount is None and (self.quantity is None or self.unit_price is None):
            raise ValueError("map 'amount', or both 'quantity' and 'unit_price'")
        return self


class PrefixRule(Frozen):
    """A line is cancelled when ``column`` starts with ``prefix``."""

    column: str
    prefix: str


class StatusRules(Frozen):
    """How a line's status is read (first match wins, else ``completed``)."""

    cancelled_prefix: PrefixRule | None = None
    value_map: dict[str, Status] = Field(default_factory=dict)
    negative_quantity_is_return: bool = True


class NonProductCodes(Frozen):
    """Lines whose ``column`` matches ``regex`` are fees/postage, not products."""

    column: str | None = None
    regex: str | None = None


class DataParams(Frozen):
    """The ``data`` section: where the export is and how it maps to canonical."""

    source: str
    format: Literal["auto", "csv", "parquet"] = "auto"
    csv_delimiter: str = ","
    columns: ColumnMap
    date_format: str | None = None
    status: StatusRules = StatusRules()
    non_product_codes: NonProductCodes = NonProductCodes()
    data_end: str | None = None
    max_quarantine_share: float = Field(0.35, ge=0.0, le=1.0)


class ValueTiers(Frozen):
    """spend_365d thresholds for the medium and high value tiers."""

    medium: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ValueTiers:
        if self.high <= self.medium:
            raise ValueError("value_tiers.high must exceed value_tiers.medium")
        return self


class FeatureParams(Frozen):
    """The ``features`` section: engine, label horizon, cutoff schedule, knobs."""

    engine: Literal["duckdb", "spark"] = "duckdb"
    horizon_days: int = Field(90, gt=0)
    lookback_days: int = Field(365, gt=0)
    cutoff_step_days: int = Field(30, gt=0)
    n_cutoffs: int = Field(8, gt=0)
    single_order_gap_days: float = Field(90.0, gt=0)
    regular_category_min_orders: int = Field(3, gt=0)
    value_tiers: ValueTiers
