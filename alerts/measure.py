"""Feedback measurement: did the alerts find churners, and did follow-up keep them?

An alert is **measured** once its horizon has passed (``due`` on or before the last order
date in the data): the customer **churned** when no completed order arrived in
``(cycle, due]``, the same label definition as training.

- **Hit rate** (预警命中率): share of alerted customers who churned, on the **control**
  group, which nobody followed up, so follow-up cannot mask a correct alert.
- **Recall**: alerted churners / all churners among the customers active at the cycle
  (an order in the 365 days before it); follow-up lowers it a little (retained
  customers no longer count as churners), so it is a lower bound.
- **Retention** (挽回率): share not churned, for delivered alerts (``treatment``), for
  those with a recorded contact (``contacted``: not randomised, shown for reference),
  and for ``control``.
- **Uplift** = retention(treatment) - retention(control): the effect of delivering the
  alert, randomised by the control hold-out (intent to treat). Its CI is a percentile
  bootstrap (``alerts.bootstrap`` resamples of each group, ``alerts.ci_level``).

By segment: ``reason_family`` (the reason code that chose the action), ``action``,
``owner`` and ``value_tier``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

SEGMENTS = ("reason_family", "action", "owner", "value_tier")


def churn_labels(alerts: pd.DataFrame, orders: pd.DataFrame, data_end: pd.Timestamp) -> pd.Series:
    """Per alert: True churned, False stayed, NaN horizon not yet passed (index aligned)."""
    cycle = pd.to_datetime(alerts["cycle"])
    due = pd.to_datetime(alerts["due"])
    measured = due <= data_end
    ts = orders[["customer_id", "order_ts"]].astype({"customer_id": str})
    joined = (
        alerts[["customer_id"]]
        .assign(_row=np.arange(len(alerts)), _c=cycle, _d=due)
        .merge(ts, on="customer_id", how="left")
    )
    inside = (joined["order_ts"] > joined["_c"]) & (
        joined["order_ts"] <= joined["_d"] + pd.Timedelta(days=1)
    )
    ordered = inside.groupby(joined["_row"]).any().reindex(range(len(alerts)), fill_value=False)
    label = pd.Series(~ordered.to_numpy(), index=alerts.index, dtype=object)
    label[~measured.to_numpy()] = np.nan
    return label


def _rate(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None


def uplift_ci(
    treated: np.ndarray, control: np.ndarray, resamples: int, level: float, seed: int
) -> tuple[float | None, float | None, float | None]:
    """Retention difference and its percentile bootstrap CI (None when a group is empty)."""
    if len(treated) == 0 or len(control) == 0:
        return None, None, None
    rng = np.random.default_rng(seed)
    pt, pc = float(np.mean(treated)), float(np.mean(control))
    draws = rng.binomial(len(treated), pt, resamples) / len(treated) - rng.binomial(
        len(control), pc, resamples
    ) / len(control)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return pt - pc, float(low), float(high)


def _summary(frame: pd.DataFrame, resamples: int, level: float, seed: int) -> dict[str, Any]:
    treat = frame[frame["group"] == "treatment"]
    control = frame[frame["group"] == "control"]
    contacted = treat[treat["contacted"]]
    stayed_t = (~treat["churned"].astype(bool)).to_numpy(float)
    stayed_c = (~control["churned"].astype(bool)).to_numpy(float)
    uplift, low, high = uplift_ci(stayed_t, stayed_c, resamples, level, seed)
    return {
        "alerts": len(frame),
        "treatment": len(treat),
        "control": len(control),
        "contacted": len(contacted),
        "hit_rate_control": _rate(control["churned"].astype(float)),
        "hit_rate_treatment": _rate(treat["churned"].astype(float)),
        "retention_treatment": _rate(pd.Series(stayed_t)),
        "retention_contacted": _rate(~contacted["churned"].astype(bool)),
        "retention_control": _rate(pd.Series(stayed_c)),
        "uplift": uplift,
        "uplift_low": low,
        "uplift_high": high,
    }


def _recall(alerts: pd.DataFrame, orders: pd.DataFrame) -> float | None:
    """Alerted churners / churners among customers active at each measured cycle."""
    ts = orders[["customer_id", "order_ts"]].astype({"customer_id": str})
    found = total = 0
    for key, group in alerts.groupby(["cycle", "due"]):
        cycle, due = cast(tuple[Any, Any], key)
        c, d = pd.Timestamp(cycle), pd.Timestamp(due) + pd.Timedelta(days=1)
        active = set(
            ts.loc[
                (ts["order_ts"] <= c) & (ts["order_ts"] > c - pd.Timedelta(days=365)), "customer_id"
            ]
        )
        kept = set(ts.loc[(ts["order_ts"] > c) & (ts["order_ts"] <= d), "customer_id"])
        churners = active - kept
        total += len(churners)
        found += len(churners & set(group["customer_id"]))
    return found / total if total else None


ORDER_COLUMNS = ("customer_id", "order_ts", "status")


def read_orders(path: Path) -> pd.DataFrame:
    """The cleaned orders' columns that measurement reads; no file: no orders (all pending)."""
    if path.exists():
        return pd.read_parquet(path, columns=list(ORDER_COLUMNS))
    return pd.DataFrame(
        {c: pd.Series(dtype="datetime64[us]" if c == "order_ts" else object) for c in ORDER_COLUMNS}
    )


def next_due(alerts: pd.DataFrame, data_end: str | None) -> str | None:
    """The earliest ``due`` date still ahead of the data (when the next alert is measured)."""
    if alerts.empty:
        return None
    due = pd.to_datetime(alerts["due"])
    if data_end is not None:
        due = due[due > pd.Timestamp(data_end)]
    return None if due.empty else due.min().date().isoformat()


def performance(
    alerts: pd.DataFrame,
    outcomes: pd.DataFrame,
    orders: pd.DataFrame,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    data_end: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """Overall and per-segment hit rate, recall, retention and uplift (see module doc)."""
    if "status" in orders.columns:
        orders = orders[orders["status"] == "completed"]
    end = pd.Timestamp(orders["order_ts"].max()) if data_end is None else data_end
    if pd.isna(end):  # no orders at all: nothing can be measured yet
        end = pd.Timestamp.min
    frame = alerts.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["churned"] = churn_labels(frame, orders, end)
    contacted_ids = set(outcomes["alert_id"]) if len(outcomes) else set()
    frame["contacted"] = frame["alert_id"].isin(contacted_ids)
    measured = frame[frame["churned"].notna()]
    out = measure(frame, resamples, level, seed)
    out["recall"] = _recall(measured, orders) if len(measured) else None
    known = end > pd.Timestamp.min
    return {"data_end": end.date().isoformat() if known else None, **out}


def measure(frame: pd.DataFrame, resamples: int, level: float, seed: int) -> dict[str, Any]:
    """The numbers from a frame with ``group``, ``churned`` (NaN: pending), ``contacted``
    and the segment columns (``action_en`` as ``action``)."""
    frame = frame.assign(
        action=frame.get("action_en", ""),
        owner=frame["owner"].fillna("(none)") if "owner" in frame else "(none)",
    )
    measured = frame[frame["churned"].notna()]
    out: dict[str, Any] = {
        "measured_alerts": len(measured),
        "pending_alerts": int(frame["churned"].isna().sum()),
        "ci_level": level,
        "overall": _summary(measured, resamples, level, seed),
        "recall": None,
        "by": {},
    }
    for i, segment in enumerate(SEGMENTS):
        rows = []
        for value, group in measured.groupby(segment, sort=True):
            rows.append(
                {
                    "segment": segment,
                    "value": str(value),
                    **_summary(group, resamples, level, seed + 1 + i),
                }
            )
        out["by"][segment] = rows
    return out
