"""Typed params for the ``features`` section: engine, label horizon, cutoff schedule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.base import Frozen

# Value tiers, lowest first: the labels of ``value_tier`` 0, 1, 2 (see ValueTiers).
TIER_NAMES: tuple[str, ...] = ("low", "medium", "high")


class ValueTiers(Frozen):
    """spend_365d thresholds for the medium and high value tiers."""

    medium: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ValueTiers:
        if self.high <= self.medium:
            raise ValueError("value_tiers.high must exceed value_tiers.medium")
        return self


class DuckDBSettings(Frozen):
    """DuckDB resources: a memory cap and a spill directory so big inputs spill."""

    memory_limit: str = "1.5GB"
    temp_directory: str | None = None
    threads: int | None = Field(default=None, gt=0)


class SparkSettings(Frozen):
    """PySpark session settings (local mode by default)."""

    master: str = "local[2]"
    shuffle_partitions: int = Field(default=4, gt=0)
    driver_memory: str = "2g"
    log_level: Literal["ERROR", "WARN", "INFO"] = "ERROR"


class FeatureParams(Frozen):
    """The ``features`` section: engine, label horizon, cutoff schedule, knobs."""

    engine: Literal["duckdb", "spark"] = "duckdb"
    horizon_days: int = Field(90, gt=0)
    lookback_days: int = Field(365, gt=0)
    cutoff_step_days: int = Field(30, gt=0)
    n_cutoffs: int = Field(8, gt=0)
    min_history_days: int = Field(60, ge=0)
    single_order_gap_days: float = Field(90.0, gt=0)
    min_usual_gap_days: float = Field(1.0, gt=0)
    regular_category_min_orders: int = Field(3, gt=0)
    value_tiers: ValueTiers
    duckdb: DuckDBSettings = DuckDBSettings()
    spark: SparkSettings = SparkSettings()
