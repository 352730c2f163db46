"""Synthetic snapshot frames for training tests (no real data, no network).

Churn depends on recency relative to the customer's usual gap and on the return rate,
so a tree model can beat RFM-only baselines, as on real data with richer features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from features.catalog import feature_names

ROOT = Path(__file__).resolve().parents[2]


def make_snapshots(n_customers: int = 600, n_cutoffs: int = 6, seed: int = 0) -> pd.DataFrame:
    """Labelled snapshots at ``n_cutoffs`` cutoffs 30 days apart, catalog column order."""
    rng = np.random.default_rng(seed)
    frames = []
    start = pd.Timestamp("2021-01-01")
    for k in range(n_cutoffs):
        n = n_customers
        gap = rng.gamma(2.0, 20.0, n) + 3
        tenure = rng.uniform(30, 700, n)
        since = np.minimum(rng.exponential(gap * 1.2), tenure)
        orders = np.maximum(1, np.round(tenure / gap * rng.uniform(0.6, 1.2, n))).astype(int)
        aov = rng.lognormal(4, 0.7, n)
        rate = 1.0 / gap

        def win(days: int, since: np.ndarray = since, rate: np.ndarray = rate) -> np.ndarray:
            return np.where(since < days, 1 + rng.poisson(rate * np.maximum(days - since, 0)), 0)

        o30, o90, o180, o365 = win(30), win(90), win(180), win(365)
        o90, o180 = np.maximum(o90, o30), np.maximum(o180, np.maximum(o90, o30))
        o365 = np.minimum(np.maximum(o365, o180), orders)
        orders = np.maximum(orders, o365)
        ret = np.where(rng.random(n) < 0.3, rng.uniform(0, 0.3, n), 0.0)
        overdue = since / gap
        logit = -0.6 + 1.6 * np.log1p(overdue) - 0.5 * np.log1p(orders) + 6 * (ret > 0.1)
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
        spend365 = o365 * aov
        frame = pd.DataFrame(
            {
                "customer_id": [f"c{i:05d}" for i in range(n)],
                "cutoff": start + pd.Timedelta(days=30 * k),
                "days_since_last_order": since,
                "orders_30d": o30,
                "orders_90d": o90,
                "orders_180d": o180,
                "orders_365d": o365,
                "orders_lifetime": orders,
                "orders_trend_90d": rng.normal(0, 0.5, n),
                "spend_30d": o30 * aov,
                "spend_90d": o90 * aov,
                "spend_180d": o180 * aov,
                "spend_365d": spend365,
                "spend_lifetime": orders * aov,
                "spend_trend_90d": rng.normal(0, 0.5, n),
                "aov_lifetime": aov,
                "aov_trend_90d": rng.normal(0, 0.3, n),
                "gap_mean_days": np.where(orders > 1, gap, np.nan),
                "gap_std_days": np.where(orders > 2, gap * 0.5, np.nan),
                "overdue_ratio": overdue,
                "overdue_days": np.where(orders > 1, since - gap, np.nan),
                "gap_cv": np.where(orders > 2, 0.5, np.nan),
                "products_90d": o90 * 3,
                "products_365d": o365 * 3,
                "return_rate_365d": ret,
                "cancel_rate_365d": rng.uniform(0, 0.1, n),
                "return_rate_trend_90d": rng.normal(0, 0.05, n),
                "tenure_days": tenure,
                "value_tier": np.digitize(spend365, [500, 2000]).astype(np.int8),
                "label": label,
            }
        )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    names = feature_names({"product_id", "quantity"})
    return out.loc[:, ["customer_id", "cutoff", *names, "label"]]


@pytest.fixture(scope="session")
def snapshots() -> pd.DataFrame:
    return make_snapshots()


def write_params(path: Path, tracking_uri: str, **overrides: dict) -> Path:
    """The repo's params.yaml with small tuning/bootstrap budgets and a given MLflow store."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["tuning"]["n_trials"] = 3
    raw["evaluate"]["bootstrap"] = 50
    raw["train"]["num_boost_round"] = 300
    raw["train"]["early_stopping_rounds"] = 30
    raw["registry"]["tracking_uri"] = tracking_uri
    for section, values in overrides.items():
        raw[section].update(values)
    path.write_text(yaml.safe_dump(raw))
    return path
