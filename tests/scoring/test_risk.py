"""Risk levels with tier overrides, value tiers and revenue at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from config.scoring import RiskParams
from scoring.risk import expected_spend, revenue_at_risk, risk_levels, tier_names

PARAMS = RiskParams.model_validate(
    {"thresholds": {"medium": 0.4, "high": 0.7}, "by_tier": {"high": {"medium": 0.2, "high": 0.5}}}
)


def test_levels_use_tier_specific_thresholds():
    prob = np.array([0.1, 0.45, 0.8, 0.25, 0.55, 0.4])
    tiers = np.array(["low", "low", "medium", "high", "high", "medium"], dtype=object)
    assert risk_levels(prob, tiers, PARAMS).tolist() == [
        "low", "medium", "high", "medium", "high", "medium",
    ]  # fmt: skip


def test_tier_names_and_bad_tier_error():
    assert tier_names(pd.Series([0, 2, 1])).tolist() == ["low", "high", "medium"]
    with pytest.raises(ValueError, match="row 1 has 7"):
        tier_names(pd.Series([0, 7]))


def test_revenue_at_risk_is_probability_times_net_run_rate():
    spend = np.array([3650.0, np.nan, -20.0, 3650.0, 3650.0, 3650.0])
    returned = np.array([0.0, np.nan, 0.0, 0.25, 1.0, 1.5])  # share of spend returned
    np.testing.assert_allclose(expected_spend(spend, returned, 90), [900, 0, 0, 675, 0, 0])
    p = np.array([0.5, 0.9, 0.9, 0.5, 0.9, 0.9])
    np.testing.assert_allclose(revenue_at_risk(p, spend, returned, 90), [450, 0, 0, 337.5, 0, 0])


def test_params_reject_unknown_tier_and_unordered_thresholds():
    with pytest.raises(ValueError, match="unknown value tiers"):
        RiskParams.model_validate(
            {
                "thresholds": {"medium": 0.4, "high": 0.7},
                "by_tier": {"gold": {"medium": 0.1, "high": 0.2}},
            }
        )
    with pytest.raises(ValueError, match="high must exceed medium"):
        RiskParams.model_validate({"thresholds": {"medium": 0.7, "high": 0.4}})
