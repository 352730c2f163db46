"""Feedback measurement, and the replay recovering a planted (simulated) uplift."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alerts.measure import churn_labels, performance, uplift_ci
from alerts.replay import SIMULATED, replay, simulated_outcomes, table
from config.alerts import AlertsParams
from tests.alerts.helpers import FAMILIES, reason


def _alerts(n: int, group: str, family: str = "ORDER_CYCLE") -> pd.DataFrame:
    """Alerts ``t0..`` (treatment) or ``c0..`` (control) for customers ``t-c0..``/``c-c0..``."""
    prefix = group[0]
    return pd.DataFrame(
        {
            "alert_id": [f"{prefix}{i}" for i in range(n)],
            "customer_id": [f"{prefix}-c{i}" for i in range(n)],
            "cycle": date(2011, 6, 1),
            "due": date(2011, 8, 30),
            "group": group,
            "reason_family": family,
            "action_en": "call",
            "owner": None,
            "value_tier": "high",
        }
    )


def test_churn_label_from_orders_in_the_horizon() -> None:
    alerts = _alerts(4, "treatment")
    alerts.loc[3, "due"] = date(2012, 1, 1)  # horizon not yet passed
    orders = pd.DataFrame(
        {
            "customer_id": ["t-c0", "t-c1", "t-c1", "t-c2"],
            "order_ts": pd.to_datetime(
                ["2011-07-01", "2011-05-01", "2011-09-15", "2011-08-30 15:00"], format="ISO8601"
            ),
        }
    )
    labels = churn_labels(alerts, orders, pd.Timestamp("2011-10-01"))
    assert labels.tolist()[:3] == [False, True, False] and pd.isna(labels.iloc[3])


def test_hit_rate_retention_and_uplift_on_known_numbers() -> None:
    treated, control = _alerts(200, "treatment"), _alerts(100, "control")
    alerts = pd.concat([treated, control], ignore_index=True)
    # 70 % of treated and 40 % of control place an order in the horizon
    stay = [f"t-c{i}" for i in range(140)] + [f"c-c{i}" for i in range(40)]
    orders = pd.DataFrame(
        {"customer_id": stay, "order_ts": pd.Timestamp("2011-07-01"), "status": "completed"}
    )
    orders = pd.concat(
        [
            orders,
            pd.DataFrame(
                {
                    "customer_id": ["x"],
                    "status": ["completed"],
                    "order_ts": [pd.Timestamp("2011-12-01")],
                }
            ),
        ]
    )
    outcomes = pd.DataFrame({"alert_id": [f"t{i}" for i in range(50)]})
    result = performance(alerts, outcomes, orders, resamples=2000, level=0.95, seed=1)
    overall = result["overall"]
    assert overall["hit_rate_control"] == pytest.approx(0.6)
    assert overall["retention_treatment"] == pytest.approx(0.7)
    assert overall["retention_control"] == pytest.approx(0.4)
    assert overall["retention_contacted"] == pytest.approx(1.0)  # t0..t49 all stayed
    assert overall["uplift"] == pytest.approx(0.3)
    assert overall["uplift_low"] < 0.3 < overall["uplift_high"]
    assert overall["uplift_low"] > 0.15 and overall["uplift_high"] < 0.45
    assert result["by"]["reason_family"][0]["value"] == "ORDER_CYCLE"
    assert result["by"]["owner"][0]["value"] == "(none)"


def test_uplift_ci_is_empty_without_a_control_group() -> None:
    assert uplift_ci(np.ones(5), np.array([]), 100, 0.95, 0) == (None, None, None)


def _synthetic(n: int = 3000, cutoffs: int = 3, seed: int = 0) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(cutoffs):
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "cutoff": pd.Timestamp("2011-01-01") + pd.Timedelta(days=100 * k),
                    "label": rng.random(n) < 0.5,
                    "family": rng.choice(FAMILIES, n),
                    "p": rng.uniform(0.7, 0.99, n),
                }
            )
        )
    snapshots = pd.concat(frames, ignore_index=True)

    def scorer(rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": rows["customer_id"].to_numpy(),
                "churn_probability": rows["p"].to_numpy(),
                "risk_level": "high",
                "value_tier": "high",
                "revenue_at_risk": rows["p"].to_numpy(),
                "reasons": [[reason(f)] for f in rows["family"]],
                "triggered_rules": [[]] * len(rows),
                "as_of": rows["cutoff"].to_numpy(),
                "model_version": "sim",
            }
        )

    return snapshots, scorer


REPLAY = AlertsParams(capacity_per_cycle=1500, control_share=0.5, cooldown_days=30, bootstrap=1000)


def _uplift(result: dict[str, object], family: str) -> dict[str, float]:
    rows = result["by"]["reason_family"]  # type: ignore[index]
    return next(r for r in rows if r["value"] == family)  # type: ignore[no-any-return]


def test_replay_recovers_a_planted_uplift_and_finds_none_elsewhere() -> None:
    snapshots, scorer = _synthetic()
    frame, result = replay(
        snapshots,
        scorer,
        REPLAY,
        {"ORDER_CYCLE": 0.08},
        seed=3,  # type: ignore[arg-type]
        horizon_days=90,
    )
    assert result["note"] == SIMULATED and result["cycles"] == 3
    planted = _uplift(result, "ORDER_CYCLE")
    assert planted["uplift_low"] <= 0.08 <= planted["uplift_high"]
    assert planted["uplift_low"] > 0  # significant
    for family in ("RETURNS", "RECENCY", "SPEND_DECLINE"):
        row = _uplift(result, family)
        assert row["uplift_low"] <= 0.0 <= row["uplift_high"], (family, row)
    outcomes = simulated_outcomes(frame)
    assert (outcomes["note"] == SIMULATED).all()
    assert "ORDER_CYCLE" in table(result)


def test_replay_without_a_plant_finds_no_uplift() -> None:
    snapshots, scorer = _synthetic(seed=1)
    _, result = replay(snapshots, scorer, REPLAY, {}, seed=4, horizon_days=90)  # type: ignore[arg-type]
    overall = result["overall"]
    assert overall["uplift_low"] <= 0.0 <= overall["uplift_high"]
    for row in result["by"]["reason_family"]:
        assert row["uplift_low"] <= 0.0 <= row["uplift_high"], row
