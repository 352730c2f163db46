"""Typed params for the ``report`` section: the analyst report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.base import Frozen


class ReportParams(Frozen):
    """The ``report`` section: the analyst report."""

    lang: Literal["en", "zh-CN"] = "en"
    sample_rows: int = Field(default=5000, ge=100)
    top_features: int = Field(default=15, ge=1)
    n_dependence: int = Field(default=4, ge=0)
    top_customers: int = Field(default=25, ge=1)
    reliability_bins: int = Field(default=10, ge=2)
