"""Small hand-made score frames for the alert tests (the shape of the score stage's output)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FAMILIES = ("ORDER_CYCLE", "RETURNS", "RECENCY", "SPEND_DECLINE")
CODES = {
    "ORDER_CYCLE": "ORDER_CYCLE_OVERDUE",
    "RETURNS": "RETURNS_ISSUES",
    "RECENCY": "RECENCY_INACTIVE",
    "SPEND_DECLINE": "SPEND_DECLINE",
}


def reason(family: str, impact: float = 0.1) -> dict[str, Any]:
    return {
        "code": CODES[family],
        "family": family,
        "impact": impact,
        "feature": "f",
        "value": 1.0,
        "reference": 1.0,
        "text_en": f"{family} en",
        "text_zh": f"{family} 中文",
    }


def scores_frame(
    n: int = 50,
    as_of: str = "2011-12-10",
    seed: int = 0,
    owners: list[str] | None = None,
    probability: np.ndarray | None = None,
) -> pd.DataFrame:
    """``n`` customers c000.., all high risk, distinct revenue at risk (c000 highest)."""
    rng = np.random.default_rng(seed)
    prob = probability if probability is not None else rng.uniform(0.7, 0.95, n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "churn_probability": prob,
            "risk_level": "high",
            "value_tier": ["high", "medium", "low"] * (n // 3) + ["low"] * (n % 3),
            "revenue_at_risk": np.linspace(1000.0, 10.0, n),
            "reasons": [
                [reason(FAMILIES[i % len(FAMILIES)]), reason("RECENCY", 0.05)] for i in range(n)
            ],
            "triggered_rules": [
                [{"code": "RULE_INACTIVE", "text_en": "r", "text_zh": "规则"}] for _ in range(n)
            ],
            "as_of": pd.Timestamp(as_of),
            "model_version": "1",
        }
    )
    if owners is not None:
        frame["owner"] = [owners[i % len(owners)] for i in range(n)]
    return frame
