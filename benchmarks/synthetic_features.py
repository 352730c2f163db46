"""Synthetic feature frames with catalog names, for tests and benchmarks.

The rows are generated from a simple order-process story (an order rate per customer, a
tenure, a last-order gap, log-normal order values) so that the features are mutually
consistent — counts nest across windows, trends follow from the windows, the overdue
ratio follows from the gaps — and a churn label that depends on them. Tests of reasons,
risk levels and the report use it instead of the bundled data so they stay fast and
independent of the feature pipeline; the benchmark uses it to make a million customers
with realistic value diversity (TreeSHAP deduplication gains depend on that diversity).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from config.features import FeatureParams
from config.root import load_params
from features.catalog import ORDER_FEATURE_NAMES as FEATURE_NAMES

Array = NDArray[np.float64]


def _window_counts(
    rng: np.random.Generator, total: Array, tenure: Array, since: Array, window: float
) -> Array:
    """Orders inside the last ``window`` days: binomial share of the lifetime orders."""
    share = np.clip((window - since) / np.maximum(tenure - since, 1.0), 0.0, 1.0)
    counts = rng.binomial((total - 1).astype(np.int64), share).astype(float)
    return np.where(since < window, counts + 1.0, 0.0)


def _safe_ratio(num: Array, den: Array) -> Array:
    """``num / den - 1`` with NaN where the denominator is zero (catalog convention)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0) - 1.0, np.nan)


def synthetic_features(
    n: int,
    seed: int,
    value_tiers: tuple[float, float] = (500.0, 2000.0),
    single_order_gap_days: float = 90.0,
) -> pd.DataFrame:
    """``n`` synthetic customers: ``customer_id``, ``cutoff``, catalog features, ``label``.

    Parameters
    ----------
    n:
        Number of customers.
    seed:
        Seed of the generator; the same seed gives the same frame.
    value_tiers:
        spend_365d thresholds of the medium and high value tiers.
    single_order_gap_days:
        Usual gap assumed for one-order customers (as ``features.single_order_gap_days``).
    """
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.5, 3.0, n) + 0.3  # orders per year
    tenure = rng.integers(1, 1500, n).astype(float)
    total = 1.0 + rng.poisson(rate * tenure / 365.0).astype(float)
    lapse = rng.random(n) < 0.35  # customers drifting away wait longer than usual
    since = rng.exponential(365.0 / rate * np.where(lapse, 2.5, 0.7))
    since = np.floor(np.minimum(np.minimum(since, tenure), 364.0))
    cols: dict[str, Array] = {"days_since_last_order": since, "tenure_days": tenure}
    for w in (30, 90, 180, 365):
        cols[f"orders_{w}d"] = _window_counts(rng, total, tenure, since, float(w))
    cols["orders_lifetime"] = total
    aov = np.exp(rng.normal(4.5, 0.9, n))
    for window in ("30d", "90d", "180d", "365d", "lifetime"):
        noise = np.exp(rng.normal(0.0, 0.25, n))
        cols[f"spend_{window}"] = np.round(cols[f"orders_{window}"] * aov * noise, 2)
    prev_orders = cols["orders_180d"] - cols["orders_90d"]
    prev_spend = np.maximum(cols["spend_180d"] - cols["spend_90d"], 0.0)
    cols["orders_trend_90d"] = _safe_ratio(cols["orders_90d"], prev_orders)
    cols["spend_trend_90d"] = _safe_ratio(cols["spend_90d"], prev_spend)
    cols["aov_lifetime"] = cols["spend_lifetime"] / total
    with np.errstate(divide="ignore", invalid="ignore"):
        aov_now = np.where(cols["orders_90d"] > 0, cols["spend_90d"] / cols["orders_90d"], 0)
        aov_prev = np.where(prev_orders > 0, prev_spend / np.maximum(prev_orders, 1), 0)
    both = (cols["orders_90d"] > 0) & (prev_orders > 0) & (aov_prev > 0)
    cols["aov_trend_90d"] = np.where(both, aov_now / np.where(both, aov_prev, 1) - 1, np.nan)
    gap = np.where(total > 1, (tenure - since) / np.maximum(total - 1, 1), np.nan)
    cols["gap_mean_days"] = gap
    cols["gap_std_days"] = np.where(total > 2, gap * rng.uniform(0.2, 1.2, n), np.nan)
    usual = np.where(np.isnan(gap), single_order_gap_days, np.maximum(gap, 1.0))
    cols["overdue_ratio"] = since / usual
    cols["overdue_days"] = since - gap
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["gap_cv"] = np.where(gap > 0, cols["gap_std_days"] / gap, np.nan)
    cols["products_90d"] = rng.poisson(cols["orders_90d"] * 4.0).astype(float)
    cols["products_365d"] = cols["products_90d"] + rng.poisson(cols["orders_365d"] * 3.0)
    cols["categories_90d"] = np.minimum(cols["products_90d"], rng.poisson(2.0, n))
    cols["categories_365d"] = np.maximum(cols["categories_90d"], rng.poisson(3.0, n))
    shift = rng.beta(1.0, 4.0, n)
    cols["category_shift_90d"] = np.where(both, shift, np.nan)
    cols["regular_categories_missed_90d"] = rng.poisson(np.where(lapse, 0.8, 0.2)).astype(float)
    returns = rng.beta(0.4, 12.0, n) * (rng.random(n) < 0.4)
    cols["return_rate_365d"] = np.where(cols["spend_365d"] > 0, returns, np.nan)
    cols["cancel_rate_365d"] = rng.beta(0.3, 15.0, n) * (rng.random(n) < 0.3)
    cols["return_rate_trend_90d"] = np.where(both, rng.normal(0.0, 0.03, n), np.nan)
    spend = cols["spend_365d"]
    cols["value_tier"] = (spend >= value_tiers[0]).astype(float) + (spend >= value_tiers[1])
    frame = pd.DataFrame({"customer_id": [f"C{i:07d}" for i in range(n)]})
    frame["cutoff"] = pd.Timestamp("2011-12-09")
    for name in FEATURE_NAMES:
        frame[name] = cols[name]
    logit = (
        -1.2
        + 1.1 * np.log1p(cols["overdue_ratio"])
        + 0.006 * since
        - 0.25 * np.log1p(cols["orders_365d"])
        + 0.8 * returns
        - 0.0004 * tenure
    )
    frame["label"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return frame


def feature_params() -> FeatureParams:
    """The ``features`` section of the repository's params.yaml (horizon, value tiers)."""
    return load_params(Path(__file__).resolve().parents[1] / "params.yaml").features
