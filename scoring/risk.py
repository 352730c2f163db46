"""Risk levels, value tiers and revenue at risk.

- **Risk level**: ``high`` when the churn probability is at or above the ``high``
  threshold, ``medium`` at or above ``medium``, else ``low``. Thresholds come from
  ``risk.thresholds``; ``risk.by_tier.<tier>`` overrides them for one value tier (a
  high-value customer is worth a call at a lower probability).
- **Revenue at risk** = churn probability x expected spend over the label horizon
  ``H`` (``features.horizon_days``). Expected spend is the trailing *net* run rate
  ``spend_365d * (1 - return_rate_365d) * H / 365``: what the customer kept paying per
  day over the last year (returned and cancelled value taken off, floored at 0), carried
  over the horizon the probability refers to. Net, because an order cancelled minutes
  later (Online Retail has 80,995-unit ones) is no revenue to lose. It is a first
  definition: it ignores growth and seasonality; a Gamma-Gamma/BG-NBD estimate would be
  better.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from config.features import TIER_NAMES
from config.scoring import RISK_LEVELS, RiskParams

Array = NDArray[np.float64]


def tier_names(value_tier: pd.Series) -> NDArray[np.object_]:
    """Value tier codes (0/1/2) -> names; anything else is an error naming the row."""
    codes = pd.to_numeric(value_tier, errors="coerce")
    bad = ~codes.isin(range(len(TIER_NAMES)))
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise ValueError(
            f"value_tier must be one of 0..{len(TIER_NAMES) - 1}; "
            f"row {value_tier.index[pos]!r} has {value_tier.iloc[pos]}"
        )
    return np.asarray(TIER_NAMES, dtype=object)[codes.to_numpy(np.int64)]


def risk_levels(
    probability: Array, tiers: NDArray[np.object_], params: RiskParams
) -> NDArray[np.object_]:
    """Risk level per customer from tier-specific probability thresholds."""
    medium = np.full(len(probability), params.thresholds.medium)
    high = np.full(len(probability), params.thresholds.high)
    for tier, thr in params.by_tier.items():
        mask = tiers == tier
        medium[mask], high[mask] = thr.medium, thr.high
    level = (probability >= medium).astype(np.int64) + (probability >= high)
    return np.asarray(RISK_LEVELS, dtype=object)[level]


def expected_spend(spend_365d: Array, return_rate_365d: Array, horizon_days: int) -> Array:
    """Expected spend over the horizon: the trailing 365-day net run rate (floored at 0).

    A missing return rate (no completed spend) counts as no returns.
    """
    spend = np.nan_to_num(spend_365d, nan=0.0)
    kept = 1.0 - np.nan_to_num(return_rate_365d, nan=0.0)
    return np.clip(spend * kept, 0.0, None) * horizon_days / 365.0


def revenue_at_risk(
    probability: Array, spend_365d: Array, return_rate_365d: Array, horizon_days: int
) -> Array:
    """Churn probability x expected (net) spend over the horizon."""
    return probability * expected_spend(spend_365d, return_rate_365d, horizon_days)
